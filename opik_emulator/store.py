"""Projects, prompts, prompt versions and environments, with the Opik backend's rules.

Every method takes the workspace first: data is isolated per ``Comet-Workspace``. Methods
return JSON-ready dicts in the backend's DTO shapes (``None`` fields left out, as Jackson's
``NON_NULL`` does) and raise :class:`~opik_emulator.errors.OpikError` with the backend's status
codes. The HTTP layer (``app.py``) only parses requests and serialises these results.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from opik_emulator import filters as flt
from opik_emulator.db import Database
from opik_emulator.errors import bad_request, conflict, not_found, unprocessable
from opik_emulator.ids import commit_of, is_uuid, is_uuid7, now_iso, uuid7
from opik_emulator.templates import extract_variables

USER = "admin"  # what an Opik deployment without authentication records as the author

_SCHEMA = """
CREATE TABLE IF NOT EXISTS workspaces (
    name TEXT PRIMARY KEY,
    environments_seeded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    visibility TEXT NOT NULL DEFAULT 'private',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_updated_at TEXT NOT NULL,
    last_updated_by TEXT NOT NULL,
    UNIQUE (workspace, name)
);
CREATE TABLE IF NOT EXISTS prompts (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    template_structure TEXT NOT NULL,
    tags TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_updated_at TEXT NOT NULL,
    last_updated_by TEXT NOT NULL
);
-- Names are unique per (workspace, project); workspace-level prompts share the '' project.
CREATE UNIQUE INDEX IF NOT EXISTS prompts_by_name
    ON prompts (workspace, IFNULL(project_id, ''), name);
-- A project's listing in Opik's default order (newest first), a page without sorting them all.
CREATE INDEX IF NOT EXISTS prompts_by_project ON prompts (workspace, project_id, id);
CREATE TABLE IF NOT EXISTS prompt_versions (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    commit_hash TEXT NOT NULL,
    version_number INTEGER,
    template TEXT NOT NULL,
    metadata TEXT,
    type TEXT NOT NULL,
    version_type TEXT NOT NULL,
    change_description TEXT,
    tags TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (prompt_id, commit_hash),
    UNIQUE (prompt_id, version_number)
);
CREATE INDEX IF NOT EXISTS prompt_versions_by_commit ON prompt_versions (workspace, commit_hash);
CREATE TABLE IF NOT EXISTS environments (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    color TEXT,
    position INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_updated_at TEXT NOT NULL,
    last_updated_by TEXT NOT NULL,
    UNIQUE (workspace, name)
);
-- One owner per (prompt, environment): the primary key is what makes ownership move.
CREATE TABLE IF NOT EXISTS version_environments (
    prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    version_id TEXT NOT NULL REFERENCES prompt_versions (id) ON DELETE CASCADE,
    PRIMARY KEY (prompt_id, environment_id)
);
CREATE INDEX IF NOT EXISTS version_environments_by_version
    ON version_environments (version_id);
"""

# Opik seeds these in every workspace (migrations 000066/000067).
DEFAULT_ENVIRONMENTS = (
    ("development", "#945FCF"),
    ("staging", "#12A4B4"),
    ("production", "#19A979"),
)

TEMPLATE_STRUCTURES = ("text", "chat")
TEMPLATE_TYPES = ("mustache", "jinja2", "python")
VERSION_TYPES = ("prompt_version", "mask")

_ENV_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_VERSION_NUMBER = re.compile(r"^v\d+$")
_COMMIT = re.compile(r"^[a-zA-Z0-9]{8}$")
_MAX_BATCH = 1000

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
    "id",
    "name",
    "description",
    "created_at",
    "created_by",
    "last_updated_at",
    "last_updated_by",
    "tags",
    "version_count",
    "template_structure",
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
    "id",
    "commit",
    "version_number",
    "template",
    "change_description",
    "created_by",
    "type",
    "tags",
    "created_at",
)
PROJECT_SORTABLE = ("id", "name", "created_at", "last_updated_at", "created_by")


def page_of(
    rows: Sequence[dict[str, Any]], page: int, size: int, sortable: Sequence[str]
) -> dict[str, Any]:
    """Opik's page DTO: ``size`` is the number of rows returned, ``total`` the full count."""
    content = list(rows[(page - 1) * size : page * size])
    return {
        "page": page,
        "size": len(content),
        "total": len(rows),
        "content": content,
        "sortableBy": list(sortable),
    }


def check_paging(page: int, size: int) -> None:
    if page < 1:
        raise bad_request("page must be greater than or equal to 1")
    if size < 1:
        raise bad_request("size must be greater than or equal to 1")


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def loads_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def is_blank(value: Any) -> bool:
    return not isinstance(value, str) or value.strip() == ""


def _check_uuid_list(values: Any, what: str = "ids") -> list[str]:
    if not isinstance(values, list) or not (1 <= len(values) <= _MAX_BATCH):
        raise unprocessable(f"{what} size must be between 1 and {_MAX_BATCH}")
    for value in values:
        if not is_uuid(value):
            raise bad_request(f"Invalid UUID in {what}: {value!r}")
    return list(dict.fromkeys(values))


def _check_tags(tags: Any, what: str = "tags") -> list[str] | None:
    if tags is None:
        return None
    if not isinstance(tags, list) or any(is_blank(t) for t in tags):
        raise unprocessable(f"{what} must be a set of non-blank strings")
    return list(dict.fromkeys(tags))


def _check_environment_name(name: Any, what: str = "name") -> str:
    if not isinstance(name, str) or not _ENV_NAME.match(name) or len(name) > 150:
        raise unprocessable(f'{what} must match "^[A-Za-z0-9_-]+$" and be at most 150 characters')
    return name


class Store:
    """The emulator's backend state, persisted in SQLite (a file path or ``:memory:``)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.db = Database(path)
        self.db.executescript(_SCHEMA)
        self._seeded: set[str] = set()

    def close(self) -> None:
        self.db.close()

    # -- projects --------------------------------------------------------------------------

    def _project(self, c: sqlite3.Connection, ws: str, project_id: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM projects WHERE workspace = ? AND id = ?", (ws, project_id)
        ).fetchone()

    def _project_by_name(self, c: sqlite3.Connection, ws: str, name: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM projects WHERE workspace = ? AND name = ?", (ws, name)
        ).fetchone()

    def get_or_create_project(self, c: sqlite3.Connection, ws: str, name: str) -> str:
        row = self._project_by_name(c, ws, name)
        if row is not None:
            return row["id"]
        project_id, now = uuid7(), now_iso()
        c.execute(
            "INSERT INTO projects (id, workspace, name, created_at, created_by, last_updated_at,"
            " last_updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (project_id, ws, name, now, USER, now, USER),
        )
        return project_id

    def project_for_write(
        self, c: sqlite3.Connection, ws: str, body: Mapping[str, Any]
    ) -> str | None:
        """``project_id`` wins over ``project_name``; a new name creates the project."""
        project_id, project_name = body.get("project_id"), body.get("project_name")
        if project_id is not None:
            if not is_uuid(project_id) or self._project(c, ws, project_id) is None:
                raise not_found("Project not found")
            return project_id
        if project_name is not None:
            if is_blank(project_name):
                raise unprocessable("project_name must not be blank")
            return self.get_or_create_project(c, ws, project_name)
        return None

    @staticmethod
    def _project_dict(row: sqlite3.Row) -> dict[str, Any]:
        return compact(
            {
                "id": row["id"],
                "name": row["name"],
                "visibility": row["visibility"],
                "description": row["description"],
                "created_at": row["created_at"],
                "created_by": row["created_by"],
                "last_updated_at": row["last_updated_at"],
                "last_updated_by": row["last_updated_by"],
            }
        )

    def create_project(self, ws: str, body: Mapping[str, Any]) -> str:
        name = body.get("name")
        if is_blank(name):
            raise unprocessable("name must not be blank")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise unprocessable("description size must be between 0 and 255")
        with self.db.write() as c:
            if self._project_by_name(c, ws, name) is not None:
                raise conflict("Project already exists")
            project_id = self.get_or_create_project(c, ws, name)
            c.execute(
                "UPDATE projects SET description = ?, visibility = ? WHERE id = ?",
                (description, body.get("visibility") or "private", project_id),
            )
        return project_id

    def retrieve_project(self, ws: str, name: Any) -> dict[str, Any]:
        if is_blank(name):
            raise unprocessable("name must not be blank")
        with self.db.read() as c:
            row = self._project_by_name(c, ws, name)
        if row is None:
            raise not_found("Project not found")
        return self._project_dict(row)

    def get_project(self, ws: str, project_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            row = self._project(c, ws, project_id)
        if row is None:
            raise not_found("Project not found")
        return self._project_dict(row)

    def list_projects(
        self, ws: str, page: int, size: int, name: str | None, sorting: str | None
    ) -> dict[str, Any]:
        check_paging(page, size)
        keys = flt.parse_sorting(sorting, PROJECT_SORTABLE)
        with self.db.read() as c:
            rows = c.execute("SELECT * FROM projects WHERE workspace = ?", (ws,)).fetchall()
        projects = [self._project_dict(r) for r in rows]
        if name:
            projects = [p for p in projects if name.lower() in p["name"].lower()]
        return page_of(flt.sort_rows(projects, keys), page, size, PROJECT_SORTABLE)

    # -- prompts ---------------------------------------------------------------------------

    def _prompt(self, c: sqlite3.Connection, ws: str, prompt_id: str) -> sqlite3.Row | None:
        if not is_uuid(prompt_id):
            return None
        return c.execute(
            "SELECT * FROM prompts WHERE workspace = ? AND id = ?", (ws, prompt_id)
        ).fetchone()

    def _prompt_named(
        self, c: sqlite3.Connection, ws: str, project_id: str | None, name: str
    ) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM prompts WHERE workspace = ? AND IFNULL(project_id, '') = ? AND name = ?",
            (ws, project_id or "", name),
        ).fetchone()

    def _find_prompt_by_name(
        self, c: sqlite3.Connection, ws: str, name: str, project_name: str | None
    ) -> tuple[sqlite3.Row, bool]:
        """The prompt a by-name read resolves to, and whether it fell back to workspace level.

        With a project, the prompt of that project; failing that a legacy workspace-level
        prompt of that name (the backend then adds an ``X-Opik-Deprecation`` header).
        """
        if project_name is not None:
            project = self._project_by_name(c, ws, project_name)
            if project is not None:
                row = self._prompt_named(c, ws, project["id"], name)
                if row is not None:
                    return row, False
            row = self._prompt_named(c, ws, None, name)
            if row is None:
                raise not_found("Prompt not found")
            return row, True
        row = (
            self._prompt_named(c, ws, None, name)
            or c.execute(
                "SELECT * FROM prompts WHERE workspace = ? AND name = ? ORDER BY id DESC LIMIT 1",
                (ws, name),
            ).fetchone()
        )
        if row is None:
            raise not_found("Prompt not found")
        return row, False

    def _version_count(self, c: sqlite3.Connection, prompt_id: str) -> int:
        return c.execute(
            "SELECT COUNT(*) FROM prompt_versions WHERE prompt_id = ?"
            " AND version_type = 'prompt_version'",
            (prompt_id,),
        ).fetchone()[0]

    @staticmethod
    def _prompt_dict(row: Mapping[str, Any], version_count: int) -> dict[str, Any]:
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

    @staticmethod
    def _check_description(description: Any) -> None:
        if description is not None and (
            is_blank(description) or len(description) > 255  # type: ignore[arg-type]
        ):
            raise unprocessable("description must not be blank and at most 255 characters")

    @staticmethod
    def _check_enum(value: Any, allowed: Sequence[str], what: str) -> None:
        # Jackson rejects an unknown enum constant while reading the body: a 400.
        if value is not None and value not in allowed:
            raise bad_request(f"Unable to process JSON. Invalid {what}: {value!r}")

    def create_prompt(self, ws: str, body: Mapping[str, Any]) -> str:
        """``POST /prompts``: the container and, when a template is given, its first version."""
        name, prompt_id, template = body.get("name"), body.get("id"), body.get("template")
        if is_blank(name):
            raise unprocessable("name must not be blank")
        self._check_description(body.get("description"))
        if template is not None and is_blank(template):
            raise unprocessable("template must not be blank")
        if prompt_id is not None and not is_uuid7(prompt_id):
            raise bad_request("prompt id must be a version 7 UUID")
        structure = body.get("template_structure") or "text"
        self._check_enum(structure, TEMPLATE_STRUCTURES, "template_structure")
        self._check_enum(body.get("type"), TEMPLATE_TYPES, "type")
        tags = _check_tags(body.get("tags"))
        with self.db.write() as c:
            project_id = self.project_for_write(c, ws, body)
            clash = c.execute("SELECT 1 FROM prompts WHERE id = ?", (prompt_id,)).fetchone()
            if clash or self._prompt_named(c, ws, project_id, name) is not None:
                raise conflict("Prompt id or name already exists")
            prompt_id = prompt_id or uuid7()
            now = now_iso()
            c.execute(
                "INSERT INTO prompts (id, workspace, project_id, name, description,"
                " template_structure, tags, created_at, created_by, last_updated_at,"
                " last_updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (prompt_id, ws, project_id, name, body.get("description"), structure,
                 _dumps(tags), now, USER, now, USER),
            )  # fmt: skip
            if template is not None:
                self._insert_version(
                    c,
                    ws,
                    prompt_id,
                    {
                        "template": template,
                        "metadata": body.get("metadata"),
                        "type": body.get("type"),
                        "change_description": body.get("change_description"),
                    },
                )
        return prompt_id

    def list_prompts(
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
        sql = (
            "SELECT p.*, (SELECT COUNT(*) FROM prompt_versions v WHERE v.prompt_id = p.id"
            " AND v.version_type = 'prompt_version') AS version_count"
            " FROM prompts p WHERE p.workspace = ?"
        )
        args: list[Any] = [ws]
        if project_id is not None:
            sql += " AND p.project_id = ?"
            args.append(project_id)
        if not (name or parsed or keys):
            # The plain listing (the SDK's, the sync's change detection): paged in SQL, since
            # building and sorting every prompt of a large project per page costs seconds.
            count_sql = "SELECT COUNT(*) FROM prompts p" + sql[sql.index(" WHERE p.") :]
            with self.db.read() as c:
                total = c.execute(count_sql, args).fetchone()[0]
                rows = c.execute(
                    sql + " ORDER BY p.id DESC LIMIT ? OFFSET ?", [*args, size, (page - 1) * size]
                ).fetchall()
            content = [self._prompt_dict(r, r["version_count"]) for r in rows]
            return {**page_of(content, 1, size, PROMPT_SORTABLE), "page": page, "total": total}
        with self.db.read() as c:
            rows = c.execute(sql, args).fetchall()
        prompts = [self._prompt_dict(r, r["version_count"]) for r in rows]
        if name:
            prompts = [p for p in prompts if name.lower() in p["name"].lower()]
        prompts = [p for p in prompts if flt.matches(p, parsed)]
        return page_of(flt.sort_rows(prompts, keys), page, size, PROMPT_SORTABLE)

    def get_prompt(
        self,
        ws: str,
        prompt_id: str,
        *,
        environment: str | None = None,
        mask_id: str | None = None,
    ) -> dict[str, Any]:
        """``Prompt_Detail``: the container, its latest version, and a requested one if asked."""
        with self.db.read() as c:
            row = self._prompt(c, ws, prompt_id)
            if row is None:
                raise not_found("Prompt not found")
            detail = self._prompt_dict(row, self._version_count(c, prompt_id))
            latest = self._latest_version(c, prompt_id)
            if latest is not None:
                detail["latest_version"] = self._version_dict(c, latest, row, variables=True)
            requested = None
            if environment is not None:
                requested = self._version_for_environment(c, ws, prompt_id, environment)
                if requested is None:
                    raise not_found("Prompt version not found")
            elif mask_id is not None:
                requested = self.version_row(c, ws, mask_id)
                if requested is None or requested["prompt_id"] != prompt_id:
                    raise not_found("Prompt version not found")
            if requested is not None:
                detail["requested_version"] = self._version_dict(c, requested, row, variables=True)
        return detail

    def update_prompt(self, ws: str, prompt_id: str, body: Mapping[str, Any]) -> None:
        """``PUT /prompts/{id}``: rename, describe, retag; null tags keep the current ones."""
        name = body.get("name")
        if is_blank(name):
            raise unprocessable("name must not be blank")
        self._check_description(body.get("description"))
        tags = _check_tags(body.get("tags"))
        with self.db.write() as c:
            row = self._prompt(c, ws, prompt_id)
            if row is None:
                raise not_found("Prompt not found")
            other = self._prompt_named(c, ws, row["project_id"], name)
            if other is not None and other["id"] != prompt_id:
                raise conflict("Prompt id or name already exists")
            c.execute(
                "UPDATE prompts SET name = ?, description = ?, tags = COALESCE(?, tags),"
                " last_updated_at = ?, last_updated_by = ? WHERE id = ?",
                (name, body.get("description"), _dumps(tags), now_iso(), USER, prompt_id),
            )

    def delete_prompt(self, ws: str, prompt_id: str) -> None:
        with self.db.write() as c:
            if self._prompt(c, ws, prompt_id) is None:
                raise not_found("Prompt not found")
            c.execute("DELETE FROM prompts WHERE id = ?", (prompt_id,))

    def delete_prompts(self, ws: str, ids: Any) -> None:
        """Batch delete; ids that do not exist (in this workspace) are ignored."""
        ids = _check_uuid_list(ids)
        with self.db.write() as c:
            c.executemany(
                "DELETE FROM prompts WHERE workspace = ? AND id = ?", [(ws, i) for i in ids]
            )

    # -- versions --------------------------------------------------------------------------

    def version_row(self, c: sqlite3.Connection, ws: str, version_id: str) -> sqlite3.Row | None:
        if not is_uuid(version_id):
            return None
        return c.execute(
            "SELECT * FROM prompt_versions WHERE workspace = ? AND id = ?", (ws, version_id)
        ).fetchone()

    def _latest_version(self, c: sqlite3.Connection, prompt_id: str) -> sqlite3.Row | None:
        # "Latest" is the highest UUIDv7, as in the backend (ORDER BY id DESC LIMIT 1).
        return c.execute(
            "SELECT * FROM prompt_versions WHERE prompt_id = ? AND version_type = 'prompt_version'"
            " ORDER BY id DESC LIMIT 1",
            (prompt_id,),
        ).fetchone()

    def _version_for_environment(
        self, c: sqlite3.Connection, ws: str, prompt_id: str, environment: str
    ) -> sqlite3.Row | None:
        return c.execute(
            "SELECT v.* FROM version_environments ve"
            " JOIN environments e ON e.id = ve.environment_id"
            " JOIN prompt_versions v ON v.id = ve.version_id"
            " WHERE ve.prompt_id = ? AND e.workspace = ? AND e.name = ?",
            (prompt_id, ws, environment),
        ).fetchone()

    def _version_environments(self, c: sqlite3.Connection, version_id: str) -> list[str]:
        rows = c.execute(
            "SELECT e.name FROM version_environments ve"
            " JOIN environments e ON e.id = ve.environment_id"
            " WHERE ve.version_id = ? ORDER BY e.position, e.name",
            (version_id,),
        ).fetchall()
        return [r[0] for r in rows]

    def _version_dict(
        self,
        c: sqlite3.Connection,
        row: sqlite3.Row,
        prompt: Mapping[str, Any] | None = None,
        *,
        variables: bool,
    ) -> dict[str, Any]:
        """``PromptVersion_Detail`` (``variables=True``) or ``PromptVersion_Public``."""
        if prompt is None:
            prompt = c.execute(
                "SELECT template_structure FROM prompts WHERE id = ?", (row["prompt_id"],)
            ).fetchone()
        number = row["version_number"]
        result = compact(
            {
                "id": row["id"],
                "prompt_id": row["prompt_id"],
                "commit": row["commit_hash"],
                "version_number": None if number is None else f"v{number}",
                "template": row["template"],
                "metadata": loads_or_none(row["metadata"]),
                "type": row["type"],
                "version_type": row["version_type"],
                "environments": self._version_environments(c, row["id"]),
                "change_description": row["change_description"],
                "tags": loads_or_none(row["tags"]),
                "template_structure": prompt["template_structure"] if prompt else None,
                "created_at": row["created_at"],
                "created_by": row["created_by"],
            }
        )
        if variables:
            result["variables"] = extract_variables(row["template"], row["type"])
        return result

    def _insert_version(
        self, c: sqlite3.Connection, ws: str, prompt_id: str, version: Mapping[str, Any]
    ) -> str:
        """Insert a version of ``prompt_id``; the caller holds the write transaction."""
        version_id, commit = version.get("id"), version.get("commit")
        version_type = version.get("version_type") or "prompt_version"
        if (
            version_id is not None
            and c.execute("SELECT 1 FROM prompt_versions WHERE id = ?", (version_id,)).fetchone()
        ):
            raise conflict("Prompt version already exists")
        if (
            commit is not None
            and c.execute(
                "SELECT 1 FROM prompt_versions WHERE prompt_id = ? AND commit_hash = ?",
                (prompt_id, commit),
            ).fetchone()
        ):
            raise conflict("Prompt version already exists")
        if version_id is None:
            # A generated commit can collide (8 hex chars); the backend retries, and so do we.
            for _ in range(3):
                version_id = uuid7()
                candidate = commit or commit_of(version_id)
                if (
                    commit is not None
                    or not c.execute(
                        "SELECT 1 FROM prompt_versions WHERE prompt_id = ? AND commit_hash = ?",
                        (prompt_id, candidate),
                    ).fetchone()
                ):
                    break
        commit = commit or commit_of(version_id)
        number = None
        if version_type == "prompt_version":
            number = c.execute(
                "SELECT COALESCE(MAX(version_number), 0) + 1 FROM prompt_versions"
                " WHERE prompt_id = ?",
                (prompt_id,),
            ).fetchone()[0]
        now = now_iso()
        try:
            c.execute(
                "INSERT INTO prompt_versions (id, workspace, prompt_id, commit_hash,"
                " version_number, template, metadata, type, version_type, change_description,"
                " tags, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (version_id, ws, prompt_id, commit, number, version["template"],
                 _dumps(version.get("metadata")), version.get("type") or "mustache",
                 version_type, version.get("change_description"),
                 _dumps(_check_tags(version.get("tags"))), now, USER),
            )  # fmt: skip
        except sqlite3.IntegrityError:
            raise conflict("Prompt version already exists") from None
        c.execute(
            "UPDATE prompts SET last_updated_at = ?, last_updated_by = ? WHERE id = ?",
            (now, USER, prompt_id),
        )
        return version_id

    def create_version(self, ws: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /prompts/versions``: a new version, creating the prompt if its name is new.

        ``template_structure`` only matters when the prompt is created; it is immutable after.
        The backend never deduplicates identical content (the SDK does that, client-side).
        """
        name, version = body.get("name"), body.get("version")
        if is_blank(name):
            raise unprocessable("name must not be blank")
        if not isinstance(version, dict):
            raise unprocessable("version must not be null")
        if is_blank(version.get("template")):
            raise unprocessable("version.template must not be blank")
        if version.get("id") is not None and not is_uuid7(version["id"]):
            raise bad_request("prompt version id must be a version 7 UUID")
        commit = version.get("commit")
        if commit is not None and (not isinstance(commit, str) or not _COMMIT.match(commit)):
            raise unprocessable('version.commit must match "^[a-zA-Z0-9]{8}$"')
        structure = body.get("template_structure") or "text"
        self._check_enum(structure, TEMPLATE_STRUCTURES, "template_structure")
        self._check_enum(version.get("type"), TEMPLATE_TYPES, "type")
        self._check_enum(version.get("version_type"), VERSION_TYPES, "version_type")
        with self.db.write() as c:
            project_id = self.project_for_write(c, ws, body)
            prompt = self._prompt_named(c, ws, project_id, name)
            if prompt is None:
                prompt_id, now = uuid7(), now_iso()
                c.execute(
                    "INSERT INTO prompts (id, workspace, project_id, name, template_structure,"
                    " created_at, created_by, last_updated_at, last_updated_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (prompt_id, ws, project_id, name, structure, now, USER, now, USER),
                )
                prompt = self._prompt(c, ws, prompt_id)
            version_id = self._insert_version(c, ws, prompt["id"], version)
            row = self.version_row(c, ws, version_id)
            return self._version_dict(c, row, prompt, variables=True)

    def retrieve_version(self, ws: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """``POST /prompts/versions/retrieve``: latest, or by one of commit/number/environment.

        Returns the version and whether the prompt was found only by the legacy
        workspace-level fallback.
        """
        name = body.get("name")
        if is_blank(name):
            raise unprocessable("name must not be blank")
        commit, environment = body.get("commit"), body.get("environment")
        number, project_name = body.get("version_number"), body.get("project_name")
        if sum(v is not None for v in (commit, environment, number)) > 1:
            raise unprocessable("commit, environment and version_number are mutually exclusive")
        if number is not None and (
            not isinstance(number, str) or not _VERSION_NUMBER.match(number) or len(number) > 10
        ):
            raise unprocessable('version_number must match "v\\d+"')
        if environment is not None:
            _check_environment_name(environment, "environment")
        if project_name is not None and is_blank(project_name):
            raise unprocessable("project_name must not be blank")
        with self.db.read() as c:
            prompt, fell_back = self._find_prompt_by_name(c, ws, name, project_name)
            if commit is not None:
                row = c.execute(
                    "SELECT * FROM prompt_versions WHERE prompt_id = ? AND commit_hash = ?",
                    (prompt["id"], commit),
                ).fetchone()
            elif number is not None:
                row = c.execute(
                    "SELECT * FROM prompt_versions WHERE prompt_id = ? AND version_number = ?",
                    (prompt["id"], int(number[1:])),
                ).fetchone()
            elif environment is not None:
                row = self._version_for_environment(c, ws, prompt["id"], environment)
            else:
                row = self._latest_version(c, prompt["id"])
            if row is None:
                raise not_found("Prompt version not found")
            return self._version_dict(c, row, prompt, variables=True), fell_back

    def get_version(self, ws: str, version_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            row = self.version_row(c, ws, version_id)
            if row is None:
                raise not_found("Prompt version not found")
            return self._version_dict(c, row, variables=True)

    def list_versions(
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
            prompt = self._prompt(c, ws, prompt_id)
            rows = c.execute(
                "SELECT * FROM prompt_versions WHERE workspace = ? AND prompt_id = ?"
                " AND version_type = 'prompt_version'",
                (ws, prompt_id),
            ).fetchall()
            versions = [self._version_dict(c, r, prompt, variables=False) for r in rows]
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

    def update_versions(self, ws: str, body: Mapping[str, Any]) -> None:
        """``PATCH /prompts/versions``: only tags can change on an (immutable) version."""
        ids = _check_uuid_list(body.get("ids"))
        update = body.get("update")
        if not isinstance(update, dict):
            raise unprocessable("update must not be null")
        tags = _check_tags(update.get("tags"))
        if tags is None:
            return  # null means "no change"
        merge = bool(body.get("merge_tags"))
        with self.db.write() as c:
            for version_id in ids:
                row = self.version_row(c, ws, version_id)
                if row is None:
                    continue
                new = tags
                if merge:
                    new = list(dict.fromkeys([*(loads_or_none(row["tags"]) or []), *tags]))
                c.execute(
                    "UPDATE prompt_versions SET tags = ? WHERE id = ?", (_dumps(new), version_id)
                )

    def restore_version(self, ws: str, prompt_id: str, version_id: str) -> dict[str, Any]:
        """A new latest version with an old version's content; tags are not copied."""
        with self.db.write() as c:
            prompt = self._prompt(c, ws, prompt_id)
            if prompt is None:
                raise not_found("Prompt not found")
            old = self.version_row(c, ws, version_id)
            if old is None or old["prompt_id"] != prompt_id:
                raise not_found("Prompt version not found")
            new_id = self._insert_version(
                c,
                ws,
                prompt_id,
                {
                    "template": old["template"],
                    "metadata": loads_or_none(old["metadata"]),
                    "type": old["type"],
                    "change_description": f"Restored from version {old['commit_hash']}",
                },
            )
            return self._version_dict(c, self.version_row(c, ws, new_id), prompt, variables=True)

    def version_by_number(self, ws: str, prompt_id: str, number: str) -> dict[str, Any]:
        if not _VERSION_NUMBER.match(number) or len(number) > 10:
            raise bad_request('versionNumber must match "v\\d+"')
        with self.db.read() as c:
            prompt = self._prompt(c, ws, prompt_id)
            if prompt is None:
                raise not_found("Prompt not found")
            row = c.execute(
                "SELECT * FROM prompt_versions WHERE prompt_id = ? AND version_number = ?",
                (prompt_id, int(number[1:])),
            ).fetchone()
            if row is None:
                raise not_found("Prompt version not found")
            return self._version_dict(c, row, prompt, variables=True)

    def prompt_by_commit(self, ws: str, commit: str) -> dict[str, Any]:
        if not _COMMIT.match(commit):
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
            prompt = self._prompt(c, ws, rows[0]["prompt_id"])
            detail = self._prompt_dict(prompt, self._version_count(c, prompt["id"]))
            latest = self._latest_version(c, prompt["id"])
            if latest is not None:
                detail["latest_version"] = self._version_dict(c, latest, prompt, variables=True)
            detail["requested_version"] = self._version_dict(c, rows[0], prompt, variables=True)
            return detail

    def versions_by_commits(self, ws: str, commits: Any) -> list[dict[str, Any]]:
        """``PromptVersionLink_Public`` per commit; unknown commits come back bare."""
        if not isinstance(commits, list) or not commits:
            raise unprocessable("commits must not be empty")
        links = []
        with self.db.read() as c:
            for commit in dict.fromkeys(commits):
                row = c.execute(
                    "SELECT v.id, v.prompt_id, p.name FROM prompt_versions v"
                    " JOIN prompts p ON p.id = v.prompt_id"
                    " WHERE v.workspace = ? AND v.commit_hash = ? ORDER BY v.id DESC LIMIT 1",
                    (ws, commit),
                ).fetchone()
                if row is None:
                    links.append({"commit": commit})
                else:
                    links.append(
                        {
                            "prompt_version_id": row["id"],
                            "commit": commit,
                            "prompt_id": row["prompt_id"],
                            "prompt_name": row["name"],
                        }
                    )
        return links

    def versions_by_ids(self, ws: str, ids: Any) -> list[dict[str, Any]]:
        ids = _check_uuid_list(ids)
        with self.db.read() as c:
            rows = [self.version_row(c, ws, i) for i in ids]
            return [self._version_dict(c, r, variables=True) for r in rows if r is not None]

    def set_version_environments(self, ws: str, version_id: str, names: Any) -> None:
        """Make ``names`` the version's full set; each moves here from any sibling version."""
        if not isinstance(names, list):
            raise unprocessable("environments must not be null")
        if len(names) > 100:
            raise unprocessable("environments size must be between 0 and 100")
        names = list(dict.fromkeys(_check_environment_name(n, "environments") for n in names))
        self._seed_environments(ws)
        with self.db.write() as c:
            version = self.version_row(c, ws, version_id)
            if version is None:
                raise not_found("Prompt version not found")
            env_ids = []
            for name in names:
                env = self._environment_named(c, ws, name)
                if env is None:
                    raise not_found(f"Environment not found: {name}")
                env_ids.append(env["id"])
            c.execute("DELETE FROM version_environments WHERE version_id = ?", (version_id,))
            c.executemany(
                "INSERT OR REPLACE INTO version_environments (prompt_id, environment_id,"
                " version_id) VALUES (?, ?, ?)",
                [(version["prompt_id"], env_id, version_id) for env_id in env_ids],
            )

    # -- environments ----------------------------------------------------------------------

    def _seed_environments(self, ws: str) -> None:
        """Give a workspace Opik's default environments, once (deleting one is permanent).

        In a transaction of its own: a request that fails after seeding (e.g. a 409 on
        creating "production") must not roll the defaults back while they count as seeded.
        """
        if ws in self._seeded:
            return
        with self.db.write() as c:
            row = c.execute(
                "SELECT environments_seeded FROM workspaces WHERE name = ?", (ws,)
            ).fetchone()
            if row is None or not row[0]:
                now = now_iso()
                c.executemany(
                    "INSERT OR IGNORE INTO environments (id, workspace, name, color, position,"
                    " created_at, created_by, last_updated_at, last_updated_by)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (uuid7(), ws, name, color, position, now, USER, now, USER)
                        for position, (name, color) in enumerate(DEFAULT_ENVIRONMENTS)
                    ],
                )
                c.execute(
                    "INSERT INTO workspaces (name, environments_seeded) VALUES (?, 1)"
                    " ON CONFLICT (name) DO UPDATE SET environments_seeded = 1",
                    (ws,),
                )
        self._seeded.add(ws)

    def _environment_named(self, c: sqlite3.Connection, ws: str, name: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM environments WHERE workspace = ? AND name = ?", (ws, name)
        ).fetchone()

    @staticmethod
    def _environment_dict(row: sqlite3.Row) -> dict[str, Any]:
        fields = ("id", "name", "description", "color", "position", "created_at", "created_by")
        return compact({key: row[key] for key in (*fields, "last_updated_at", "last_updated_by")})

    @staticmethod
    def _check_environment_fields(body: Mapping[str, Any]) -> None:
        description, color, position = (
            body.get("description"),
            body.get("color"),
            body.get("position"),
        )
        if description is not None and (not isinstance(description, str) or len(description) > 500):
            raise unprocessable("description size must be between 0 and 500")
        if color is not None and (not isinstance(color, str) or len(color) > 20):
            raise unprocessable("color size must be between 0 and 20")
        if position is not None and not isinstance(position, int):
            raise bad_request("Unable to process JSON. position must be an integer")

    def create_environment(self, ws: str, body: Mapping[str, Any]) -> str:
        name = _check_environment_name(body.get("name"))
        self._check_environment_fields(body)
        env_id = body.get("id")
        if env_id is not None and not is_uuid7(env_id):
            raise bad_request("environment id must be a version 7 UUID")
        self._seed_environments(ws)
        with self.db.write() as c:
            if self._environment_named(c, ws, name) is not None or (
                env_id
                and c.execute("SELECT 1 FROM environments WHERE id = ?", (env_id,)).fetchone()
            ):
                raise conflict("Environment already exists")
            position = body.get("position")
            if position is None:
                position = c.execute(
                    "SELECT COALESCE(MAX(position), -1) + 1 FROM environments WHERE workspace = ?",
                    (ws,),
                ).fetchone()[0]
            env_id, now = env_id or uuid7(), now_iso()
            c.execute(
                "INSERT INTO environments (id, workspace, name, description, color, position,"
                " created_at, created_by, last_updated_at, last_updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (env_id, ws, name, body.get("description"), body.get("color"), position,
                 now, USER, now, USER),
            )  # fmt: skip
        return env_id

    def list_environments(self, ws: str) -> dict[str, Any]:
        self._seed_environments(ws)
        with self.db.write() as c:
            rows = c.execute(
                "SELECT * FROM environments WHERE workspace = ? ORDER BY position, name", (ws,)
            ).fetchall()
        envs = [self._environment_dict(r) for r in rows]
        return {"page": 1, "size": len(envs), "total": len(envs), "content": envs}

    def get_environment(self, ws: str, env_id: str) -> dict[str, Any]:
        self._seed_environments(ws)
        with self.db.write() as c:
            row = c.execute(
                "SELECT * FROM environments WHERE workspace = ? AND id = ?", (ws, env_id)
            ).fetchone()
        if row is None:
            raise not_found("Environment not found")
        return self._environment_dict(row)

    def update_environment(self, ws: str, env_id: str, body: Mapping[str, Any]) -> None:
        self._check_environment_fields(body)
        name = body.get("name")
        if name is not None:
            _check_environment_name(name)
        self._seed_environments(ws)
        with self.db.write() as c:
            row = c.execute(
                "SELECT * FROM environments WHERE workspace = ? AND id = ?", (ws, env_id)
            ).fetchone()
            if row is None:
                raise not_found("Environment not found")
            if name is not None and name != row["name"] and self._environment_named(c, ws, name):
                raise conflict("Environment already exists")
            c.execute(
                "UPDATE environments SET name = COALESCE(?, name),"
                " description = COALESCE(?, description), color = COALESCE(?, color),"
                " position = COALESCE(?, position), last_updated_at = ?, last_updated_by = ?"
                " WHERE id = ?",
                (name, body.get("description"), body.get("color"), body.get("position"),
                 now_iso(), USER, env_id),
            )  # fmt: skip

    def delete_environments(self, ws: str, ids: Any) -> None:
        """Batch delete; also clears the environments from every version that held them."""
        ids = _check_uuid_list(ids)
        self._seed_environments(ws)
        with self.db.write() as c:
            c.executemany(
                "DELETE FROM environments WHERE workspace = ? AND id = ?", [(ws, i) for i in ids]
            )
