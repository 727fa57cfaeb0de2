"""Prompts (the containers of versions): created, listed, renamed, deleted, found by name.

A prompt's name is unique in its project. Finding one by name follows the backend's
``PromptServiceImpl.findByName``: the prompt of the asked project, and failing that the prompt
of that name in any project of the workspace (the "workspace-wide search" that reads answer
with an ``X-Opik-Deprecation`` header). Reads and version creates both go through it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from opik_emulator import filters as flt
from opik_emulator import version_rows
from opik_emulator.db import Database
from opik_emulator.environments import Environments
from opik_emulator.errors import conflict, not_found
from opik_emulator.ids import is_uuid, now_iso, uuid7
from opik_emulator.paging import check_paging, offset, page_of, paged
from opik_emulator.projects import Projects, ProjectScoped
from opik_emulator.rows import USER, compact, dumps_or_none, loads_or_none
from opik_emulator.validation import (
    MISSING,
    Body,
    Description,
    NotBlank,
    NullOrNotBlank,
    Tags,
    UuidBatch,
    parse,
    uuid7_id,
)

TemplateStructure = Literal["text", "chat"]
TemplateType = Literal["mustache", "jinja2", "python"]

PROMPT_FILTER_FIELDS = {
    "id": flt.STRING,
    "name": flt.STRING,
    "description": flt.STRING,
    "created_by": flt.STRING,
    "last_updated_by": flt.STRING,
    "template_structure": flt.ENUM,
    "tags": flt.LIST,
    "created_at": flt.DATE_TIME,
    "last_updated_at": flt.DATE_TIME,
    "version_count": flt.NUMBER,
}
PROMPT_SORTABLE = (
    "id", "name", "description", "created_at", "created_by", "last_updated_at",
    "last_updated_by", "tags", "version_count", "template_structure",
)  # fmt: skip


class PromptWrite(ProjectScoped):
    """``Prompt_Write`` (``POST /prompts``): the container, and a first version if a
    ``template`` is given."""

    id: Annotated[str | None, uuid7_id("prompt")] = None
    name: NotBlank = MISSING
    description: Description = None
    template: NullOrNotBlank = None
    metadata: Any = None
    change_description: str | None = None
    type: TemplateType | None = None
    template_structure: TemplateStructure | None = None
    tags: Tags = None


class PromptUpdate(Body):
    """``Prompt_Updatable`` (``PUT /prompts/{id}``); null tags keep the current ones."""

    name: NotBlank = MISSING
    description: Description = None
    tags: Tags = None


class PromptIds(Body):
    ids: UuidBatch = MISSING


_COUNTED = (
    "SELECT p.*, (SELECT COUNT(*) FROM prompt_versions v WHERE v.prompt_id = p.id"
    " AND v.version_type = 'prompt_version') AS version_count FROM prompts p"
)
# The plain listing (the SDK's, the sync's change detection) is paged in SQL, along the
# (workspace, project_id, id) index: building and sorting every prompt per page costs seconds.
_PAGE_OF_PROJECT = (
    f"{_COUNTED} WHERE p.workspace = ? AND p.project_id = ? ORDER BY p.id DESC LIMIT ? OFFSET ?"
)
_PAGE_OF_WORKSPACE = f"{_COUNTED} WHERE p.workspace = ? ORDER BY p.id DESC LIMIT ? OFFSET ?"
_COUNT_OF_PROJECT = "SELECT COUNT(*) FROM prompts WHERE workspace = ? AND project_id = ?"
_COUNT_OF_WORKSPACE = "SELECT COUNT(*) FROM prompts WHERE workspace = ?"
_ALL_OF_PROJECT = f"{_COUNTED} WHERE p.workspace = ? AND p.project_id = ?"
_ALL_OF_WORKSPACE = f"{_COUNTED} WHERE p.workspace = ?"


def as_dict(row: sqlite3.Row, version_count: int) -> dict[str, Any]:
    """``Prompt_Public`` (and the container fields of ``Prompt_Detail``)."""
    return compact(
        {
            "id": row["id"],
            "name": row["name"],
            "project_id": row["project_id"],
            "description": row["description"],
            "template_structure": row["template_structure"],
            "tags": loads_or_none(row["tags"]),
            "created_at": row["created_at"],
            "created_by": row["created_by"],
            "last_updated_at": row["last_updated_at"],
            "last_updated_by": row["last_updated_by"],
            "version_count": version_count,
        }
    )


class Prompts:
    def __init__(self, db: Database, projects: Projects, environments: Environments) -> None:
        self.db = db
        self.projects = projects
        self.environments = environments

    # -- lookups, inside the callers' transactions ---------------------------------------------

    @staticmethod
    def row(c: sqlite3.Connection, ws: str, prompt_id: str) -> sqlite3.Row | None:
        if not is_uuid(prompt_id):
            return None
        return c.execute(
            "SELECT * FROM prompts WHERE workspace = ? AND id = ?", (ws, prompt_id)
        ).fetchone()

    @staticmethod
    def in_project(
        c: sqlite3.Connection, ws: str, project_id: str | None, name: str
    ) -> sqlite3.Row | None:
        """The prompt ``name`` of exactly this project (``None``: a workspace-level one)."""
        return c.execute(
            "SELECT * FROM prompts WHERE workspace = ? AND IFNULL(project_id, '') = ? AND name = ?",
            (ws, project_id or "", name),
        ).fetchone()

    @staticmethod
    def in_any_project(c: sqlite3.Connection, ws: str, name: str) -> sqlite3.Row | None:
        """The backend's ``findByName(name, workspace, null)``: a prompt of that name in any
        project. Its query has no ORDER BY, so MySQL answers in the order of the unique index
        (workspace_id, project_id, name): a workspace-level prompt first, then projects by id,
        the oldest first (UUIDv7). The emulator makes that order explicit."""
        return c.execute(
            "SELECT * FROM prompts WHERE workspace = ? AND name = ?"
            " ORDER BY project_id IS NOT NULL, project_id LIMIT 1",
            (ws, name),
        ).fetchone()

    def find(
        self, c: sqlite3.Connection, ws: str, name: str, project_id: str | None
    ) -> tuple[sqlite3.Row | None, bool]:
        """``PromptServiceImpl.findByName``: the project's prompt, else (and without a
        project) the prompt of that name in any project. Also says whether the asked
        project's lookup fell back to the workspace-wide one."""
        if project_id is not None:
            found = self.in_project(c, ws, project_id, name)
            if found is not None:
                return found, False
        fallback = self.in_any_project(c, ws, name)
        return fallback, fallback is not None and project_id is not None

    def find_for_read(
        self, c: sqlite3.Connection, ws: str, name: str, project_name: str | None
    ) -> tuple[sqlite3.Row, bool]:
        """A read by name: an unknown project is no project (searched workspace-wide, with no
        deprecation to report); 404 when no prompt has the name."""
        project = None if project_name is None else self.projects.named(c, ws, project_name)
        found, fell_back = self.find(c, ws, name, None if project is None else project["id"])
        if found is None:
            raise not_found("Prompt not found")
        return found, fell_back

    def get_or_create(
        self,
        c: sqlite3.Connection,
        ws: str,
        name: str,
        project_id: str | None,
        structure: str,
    ) -> sqlite3.Row:
        """The prompt a new version goes to (``getOrCreatePrompt``): found as by
        :meth:`find`, so it can be another project's; else a new one in ``project_id``.
        ``structure`` only matters for a new prompt: it is immutable after."""
        found, _ = self.find(c, ws, name, project_id)
        if found is not None:
            return found
        prompt_id = self._insert(c, ws, project_id, name, structure=structure)
        created = self.row(c, ws, prompt_id)
        assert created is not None  # inserted in this transaction
        return created

    @staticmethod
    def _insert(
        c: sqlite3.Connection,
        ws: str,
        project_id: str | None,
        name: str,
        *,
        structure: str,
        prompt_id: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
    ) -> str:
        prompt_id, now = prompt_id or uuid7(), now_iso()
        c.execute(
            "INSERT INTO prompts (id, workspace, project_id, name, description,"
            " template_structure, tags, created_at, created_by, last_updated_at,"
            " last_updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (prompt_id, ws, project_id, name, description, structure, dumps_or_none(tags),
             now, USER, now, USER),
        )  # fmt: skip
        return prompt_id

    @staticmethod
    def version_count(c: sqlite3.Connection, prompt_id: str) -> int:
        return c.execute(
            "SELECT COUNT(*) FROM prompt_versions WHERE prompt_id = ?"
            " AND version_type = 'prompt_version'",
            (prompt_id,),
        ).fetchone()[0]

    # -- endpoints ---------------------------------------------------------------------------

    def create(self, ws: str, body: Mapping[str, Any]) -> str:
        """``POST /prompts``. The name must be free in its project (no fallback here)."""
        request = parse(PromptWrite, body)
        with self.db.write() as c:
            project_id = self.projects.for_write(c, ws, request)
            clash = (
                request.id
                and c.execute("SELECT 1 FROM prompts WHERE id = ?", (request.id,)).fetchone()
            )
            if clash or self.in_project(c, ws, project_id, request.name) is not None:
                raise conflict("Prompt id or name already exists")
            prompt_id = self._insert(
                c, ws, project_id, request.name, structure=request.template_structure or "text",
                prompt_id=request.id, description=request.description, tags=request.tags,
            )  # fmt: skip
            if request.template is not None:
                version = version_rows.NewVersion(
                    template=request.template,
                    metadata=request.metadata,
                    type=request.type,
                    change_description=request.change_description,
                )
                version_rows.insert(c, ws, prompt_id, version)
        return prompt_id

    def listing(
        self,
        ws: str,
        *,
        page: int = 1,
        size: int = 10,
        name: str | None = None,
        project_id: str | None = None,
        filters: str | None = None,
        sorting: str | None = None,
    ) -> dict[str, Any]:
        check_paging(page, size)
        parsed = flt.parse_filters(filters, PROMPT_FILTER_FIELDS)
        keys = flt.parse_sorting(sorting, PROMPT_SORTABLE)
        scope = (ws,) if project_id is None else (ws, project_id)
        with self.db.read() as c:
            if not (name or parsed or keys):
                page_sql = _PAGE_OF_WORKSPACE if project_id is None else _PAGE_OF_PROJECT
                count_sql = _COUNT_OF_WORKSPACE if project_id is None else _COUNT_OF_PROJECT
                total = c.execute(count_sql, scope).fetchone()[0]
                rows = c.execute(page_sql, (*scope, size, offset(page, size))).fetchall()
                content = [as_dict(r, r["version_count"]) for r in rows]
                return paged(content, page, total, PROMPT_SORTABLE)
            all_sql = _ALL_OF_WORKSPACE if project_id is None else _ALL_OF_PROJECT
            rows = c.execute(all_sql, scope).fetchall()
        prompts = [as_dict(r, r["version_count"]) for r in rows]
        if name:
            prompts = [p for p in prompts if name.lower() in p["name"].lower()]
        prompts = [p for p in prompts if flt.matches(p, parsed)]
        return page_of(flt.sort_rows(prompts, keys), page, size, PROMPT_SORTABLE)

    def detail(
        self, ws: str, prompt_id: str, *, environment: str | None, mask_id: str | None
    ) -> dict[str, Any]:
        """``Prompt_Detail``: the container, its latest version, and a requested one if asked
        (the version ``environment`` points to, or the mask ``mask_id``)."""
        with self.db.read() as c:
            prompt = self.row(c, ws, prompt_id)
            if prompt is None:
                raise not_found("Prompt not found")
            detail = as_dict(prompt, self.version_count(c, prompt_id))
            requested = None
            if environment is not None:
                requested = self.environments.owner(c, ws, prompt_id, environment)
                if requested is None:
                    raise not_found("Prompt version not found")
            elif mask_id is not None:
                requested = version_rows.row(c, ws, mask_id)
                if requested is None or requested["prompt_id"] != prompt_id:
                    raise not_found("Prompt version not found")
            return with_versions(c, detail, prompt, requested)

    def update(self, ws: str, prompt_id: str, body: Mapping[str, Any]) -> None:
        """``PUT /prompts/{id}``: rename, describe, retag."""
        request = parse(PromptUpdate, body)
        with self.db.write() as c:
            row = self.row(c, ws, prompt_id)
            if row is None:
                raise not_found("Prompt not found")
            other = self.in_project(c, ws, row["project_id"], request.name)
            if other is not None and other["id"] != prompt_id:
                raise conflict("Prompt id or name already exists")
            c.execute(
                "UPDATE prompts SET name = ?, description = ?, tags = COALESCE(?, tags),"
                " last_updated_at = ?, last_updated_by = ? WHERE id = ?",
                (request.name, request.description, dumps_or_none(request.tags), now_iso(),
                 USER, prompt_id),
            )  # fmt: skip

    def delete(self, ws: str, prompt_id: str) -> None:
        """Deletes the prompt and (by cascade) its versions; 404 if unknown."""
        with self.db.write() as c:
            if self.row(c, ws, prompt_id) is None:
                raise not_found("Prompt not found")
            c.execute("DELETE FROM prompts WHERE id = ?", (prompt_id,))

    def delete_batch(self, ws: str, body: Mapping[str, Any]) -> None:
        """Batch delete; ids that do not exist (in this workspace) are ignored."""
        request = parse(PromptIds, body)
        with self.db.write() as c:
            c.executemany(
                "DELETE FROM prompts WHERE workspace = ? AND id = ?", [(ws, i) for i in request.ids]
            )


def with_versions(
    c: sqlite3.Connection,
    detail: dict[str, Any],
    prompt: sqlite3.Row,
    requested: sqlite3.Row | None,
) -> dict[str, Any]:
    """``detail`` with ``latest_version`` and, when given, ``requested_version``."""
    latest = version_rows.latest(c, prompt["id"])
    chosen = [v for v in (latest, requested) if v is not None]
    structures = {prompt["id"]: prompt["template_structure"]}
    dicts = iter(version_rows.as_dicts(c, chosen, variables=True, structures=structures))
    if latest is not None:
        detail["latest_version"] = next(dicts)
    if requested is not None:
        detail["requested_version"] = next(dicts)
    return detail
