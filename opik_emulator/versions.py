"""Prompt versions: created (with the prompt, when its name is new), read by name, commit,
number, environment or id, listed, retagged, restored, and given environments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, model_validator

from opik_emulator import filters as flt
from opik_emulator import version_rows
from opik_emulator.db import Database
from opik_emulator.environments import Environments, VersionEnvironments
from opik_emulator.errors import bad_request, conflict, not_found
from opik_emulator.paging import check_paging, page_of
from opik_emulator.projects import Projects, ProjectScoped
from opik_emulator.prompts import Prompts, TemplateStructure, TemplateType, as_dict, with_versions
from opik_emulator.rows import dumps_or_none, loads_or_none, placeholders
from opik_emulator.validation import (
    COMMIT,
    MISSING,
    VERSION_NUMBER,
    Body,
    Commit,
    EnvironmentName,
    EnvironmentNames,
    NotBlank,
    NotNull,
    NullOrNotBlank,
    Required,
    Tags,
    UuidBatch,
    VersionNumber,
    parse,
    unique,
    uuid7_id,
    violation,
)

VERSION_FILTER_FIELDS = {
    "id": flt.STRING,
    "commit": flt.STRING,
    "template": flt.STRING,
    "change_description": flt.STRING,
    "created_by": flt.STRING,
    "metadata": flt.DICTIONARY,
    "type": flt.ENUM,
    "tags": flt.LIST,
    "environments": flt.LIST,
    "created_at": flt.DATE_TIME,
}
VERSION_SORTABLE = (
    "id", "commit", "version_number", "template", "change_description", "created_by", "type",
    "tags", "created_at",
)  # fmt: skip


class VersionWrite(Body):
    """``PromptVersion_Detail`` as a client writes it."""

    id: Annotated[str | None, uuid7_id("prompt version")] = None
    commit: Commit = None
    template: NotBlank = MISSING
    metadata: Any = None
    type: TemplateType | None = None
    version_type: Literal["prompt_version", "mask"] | None = None
    change_description: str | None = None
    tags: Tags = None
    environments: EnvironmentNames = None

    @model_validator(mode="after")
    def _no_environments_on_a_mask(self) -> VersionWrite:
        if self.environments and self.version_type == "mask":
            raise violation("environments cannot be set on a mask version")
        return self


class CreateVersion(ProjectScoped):
    """``CreatePromptVersion_Detail``; ``template_structure`` only counts for a new prompt."""

    name: NotBlank = MISSING
    version: Annotated[VersionWrite, Required, NotNull] = MISSING
    template_structure: TemplateStructure | None = None


class RetrieveVersion(Body):
    """``PromptVersionRetrieve_Detail``: the latest version, or the one a selector names."""

    name: NotBlank = MISSING
    commit: str | None = None
    environment: EnvironmentName = None
    version_number: VersionNumber = None
    project_name: NullOrNotBlank = None

    @model_validator(mode="after")
    def _one_selector(self) -> RetrieveVersion:
        if sum(v is not None for v in (self.commit, self.environment, self.version_number)) > 1:
            raise violation("commit, environment and version_number are mutually exclusive")
        return self


class TagsUpdate(Body):
    tags: Tags = None  # null: no change


class UpdateVersions(Body):
    """``PromptVersionBatchUpdate``: only tags change on an (immutable) version."""

    ids: UuidBatch = MISSING
    update: Annotated[TagsUpdate, Required, NotNull] = MISSING
    merge_tags: bool | None = None


def _not_empty(values: Any) -> Any:
    if not values:
        raise violation("must not be empty")
    return values


class Commits(Body):
    commits: Annotated[list[str], Required, BeforeValidator(_not_empty), AfterValidator(unique)] = (
        MISSING
    )


class VersionIds(Body):
    ids: UuidBatch = MISSING


class Versions:
    def __init__(
        self, db: Database, projects: Projects, prompts: Prompts, environments: Environments
    ) -> None:
        self.db = db
        self.projects = projects
        self.prompts = prompts
        self.environments = environments

    def create(self, ws: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /prompts/versions``: a new version of the prompt that name finds (see
        :meth:`Prompts.find`: it can be another project's), or of a new prompt.

        As in the backend, the project and the prompt are committed first, then the version's
        unknown ``environments`` are registered, then the version is created; a version that
        is refused (409) leaves the others in place. Identical content is never deduplicated
        here: the SDK does that, client-side.
        """
        request = parse(CreateVersion, body)
        version = request.version
        with self.db.write() as c:
            project_id = self.projects.for_write(c, ws, request)
            structure = request.template_structure or "text"
            prompt = self.prompts.get_or_create(c, ws, request.name, project_id, structure)
        environments = version.environments or []
        self.environments.register(ws, environments)
        with self.db.write() as c:
            fields = version.model_dump(exclude={"environments"})
            version_id = version_rows.insert(c, ws, prompt["id"], version_rows.NewVersion(**fields))
            self.environments.claim_for_new_version(c, ws, prompt["id"], version_id, environments)
            return version_rows.as_dict(c, version_rows.row(c, ws, version_id), prompt)

    def retrieve(self, ws: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """``POST /prompts/versions/retrieve``. Returns the version and whether the asked
        project did not have the prompt, so the workspace-wide search found it."""
        request = parse(RetrieveVersion, body)
        with self.db.read() as c:
            prompt, fell_back = self.prompts.find_for_read(
                c, ws, request.name, request.project_name
            )
            if request.commit is not None:
                row = version_rows.by_commit(c, prompt["id"], request.commit)
            elif request.version_number is not None:
                row = version_rows.by_number(c, prompt["id"], request.version_number)
            elif request.environment is not None:
                row = self.environments.owner(c, ws, prompt["id"], request.environment)
            else:
                row = version_rows.latest(c, prompt["id"])
            if row is None:
                raise not_found("Prompt version not found")
            return version_rows.as_dict(c, row, prompt), fell_back

    def get(self, ws: str, version_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            row = version_rows.row(c, ws, version_id)
            if row is None:
                raise not_found("Prompt version not found")
            return version_rows.as_dict(c, row)

    def listing(
        self,
        ws: str,
        prompt_id: str,
        *,
        page: int = 1,
        size: int = 10,
        search: str | None = None,
        filters: str | None = None,
        sorting: str | None = None,
    ) -> dict[str, Any]:
        """A prompt's versions, newest first; masks never appear."""
        check_paging(page, size)
        parsed = flt.parse_filters(filters, VERSION_FILTER_FIELDS)
        keys = flt.parse_sorting(sorting, VERSION_SORTABLE)
        with self.db.read() as c:
            prompt = self.prompts.row(c, ws, prompt_id)
            rows = c.execute(
                "SELECT * FROM prompt_versions WHERE workspace = ? AND prompt_id = ?"
                " AND version_type = 'prompt_version'",
                (ws, prompt_id),
            ).fetchall()
            structures = {} if prompt is None else {prompt_id: prompt["template_structure"]}
            versions = version_rows.as_dicts(c, rows, variables=False, structures=structures)
        if search:
            needle = search.lower()
            versions = [
                v
                for v in versions
                if needle in v["template"].lower()
                or needle in (v.get("change_description") or "").lower()
            ]
        versions = [v for v in versions if flt.matches(v, parsed)]

        def value(row: dict[str, Any], field: str) -> Any:
            if field == "version_number":
                return int(row["version_number"][1:])
            return row.get(field)

        return page_of(flt.sort_rows(versions, keys, value), page, size, VERSION_SORTABLE)

    def update_tags(self, ws: str, body: Mapping[str, Any]) -> None:
        """``PATCH /prompts/versions``: replace the tags, or merge into them; null: no change."""
        request = parse(UpdateVersions, body)
        tags = request.update.tags
        if tags is None:
            return
        with self.db.write() as c:
            for row in version_rows.rows(c, ws, request.ids):
                new = tags
                if request.merge_tags:
                    new = list(dict.fromkeys([*(loads_or_none(row["tags"]) or []), *tags]))
                c.execute(
                    "UPDATE prompt_versions SET tags = ? WHERE id = ?",
                    (dumps_or_none(new), row["id"]),
                )

    def restore(self, ws: str, prompt_id: str, version_id: str) -> dict[str, Any]:
        """A new latest version with an old version's content; tags and environments are
        not copied."""
        with self.db.write() as c:
            prompt = self.prompts.row(c, ws, prompt_id)
            if prompt is None:
                raise not_found("Prompt not found")
            old = version_rows.row(c, ws, version_id)
            if old is None or old["prompt_id"] != prompt_id:
                raise not_found("Prompt version not found")
            copy = version_rows.NewVersion(
                template=old["template"],
                metadata=loads_or_none(old["metadata"]),
                type=old["type"],
                change_description=f"Restored from version {old['commit_hash']}",
            )
            new_id = version_rows.insert(c, ws, prompt_id, copy)
            return version_rows.as_dict(c, version_rows.row(c, ws, new_id), prompt)

    def by_number(self, ws: str, prompt_id: str, number: str) -> dict[str, Any]:
        if not VERSION_NUMBER.match(number) or len(number) > 10:
            raise bad_request('versionNumber must match "v\\d+"')
        with self.db.read() as c:
            if self.prompts.row(c, ws, prompt_id) is None:
                raise not_found("Prompt not found")
            row = version_rows.by_number(c, prompt_id, number)
            if row is None:
                raise not_found("Prompt version not found")
            return version_rows.as_dict(c, row)

    def prompt_by_commit(self, ws: str, commit: str) -> dict[str, Any]:
        """``Prompt_Detail`` of the prompt holding ``commit``; 409 if several prompts do."""
        if not COMMIT.match(commit):
            raise bad_request('commit must match "^[a-zA-Z0-9]{8}$"')
        with self.db.read() as c:
            rows = c.execute(
                "SELECT * FROM prompt_versions WHERE workspace = ? AND commit_hash = ?",
                (ws, commit),
            ).fetchall()
            if not rows:
                raise not_found("Prompt version not found")
            if len({r["prompt_id"] for r in rows}) > 1:
                raise conflict("Multiple prompts found for commit, use a prompt id")
            prompt = self.prompts.row(c, ws, rows[0]["prompt_id"])
            assert prompt is not None  # its versions cascade with it
            detail = as_dict(prompt, self.prompts.version_count(c, prompt["id"]))
            return with_versions(c, detail, prompt, rows[0])

    def links_by_commits(self, ws: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``PromptVersionLink_Public`` per commit (the newest holder); unknown ones bare."""
        commits = parse(Commits, body).commits
        with self.db.read() as c:
            rows = c.execute(
                "SELECT v.commit_hash, v.id, v.prompt_id, p.name FROM prompt_versions v"
                " JOIN prompts p ON p.id = v.prompt_id WHERE v.workspace = ?"
                f" AND v.commit_hash IN ({placeholders(commits)}) ORDER BY v.id",
                [ws, *commits],
            ).fetchall()
        newest = {row["commit_hash"]: row for row in rows}  # ascending ids: the last one wins
        links = []
        for commit in commits:
            row = newest.get(commit)
            if row is None:
                links.append({"commit": commit})
                continue
            links.append(
                {
                    "prompt_version_id": row["id"],
                    "commit": commit,
                    "prompt_id": row["prompt_id"],
                    "prompt_name": row["name"],
                }
            )
        return links

    def by_ids(self, ws: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        ids = parse(VersionIds, body).ids
        with self.db.read() as c:
            return version_rows.as_dicts(c, version_rows.rows(c, ws, ids), variables=True)

    def set_environments(self, ws: str, version_id: str, body: Mapping[str, Any]) -> None:
        """``PATCH /prompts/versions/{id}/environments`` (the body is checked first)."""
        names = parse(VersionEnvironments, body).environments
        with self.db.read() as c:
            version = version_rows.row(c, ws, version_id)
        if version is None:
            raise not_found("Prompt version not found")
        self.environments.set_for_version(ws, version, names)
