"""Projects: the scope of prompts, datasets, traces and experiments.

Writes name a project by ``project_id`` (it must exist) or ``project_name`` (created when
missing, as the backend's ``projectService.getOrCreate``); with neither, a prompt is a legacy
workspace-level one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Annotated, Any

from opik_emulator import filters as flt
from opik_emulator.db import Database
from opik_emulator.errors import conflict, not_found
from opik_emulator.ids import is_uuid, now_iso, uuid7
from opik_emulator.paging import check_paging, page_of
from opik_emulator.rows import USER, compact
from opik_emulator.validation import MISSING, Body, NotBlank, NullOrNotBlank, constrained, parse

PROJECT_SORTABLE = ("id", "name", "created_at", "last_updated_at", "created_by")
DEFAULT_PROJECT = "Default Project"  # where traces without a project go


class ProjectScoped(Body):
    """The project fields a write may carry; ``project_id`` wins over ``project_name``."""

    project_id: str | None = None
    project_name: NullOrNotBlank = None


class ProjectWrite(Body):
    name: NotBlank = MISSING
    description: Annotated[
        str | None, constrained(lambda v: len(v) <= 255, "size must be between 0 and 255")
    ] = None
    visibility: str | None = None


class ProjectRetrieve(Body):
    name: NotBlank = MISSING


_FIELDS = (
    "id", "name", "visibility", "description", "created_at", "created_by", "last_updated_at",
    "last_updated_by",
)  # fmt: skip


def _as_dict(row: sqlite3.Row) -> dict[str, Any]:
    """``ProjectDetailed`` / ``Project_Public``."""
    return compact({key: row[key] for key in _FIELDS})


class Projects:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- inside other resources' transactions ------------------------------------------------

    @staticmethod
    def row(c: sqlite3.Connection, ws: str, project_id: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM projects WHERE workspace = ? AND id = ?", (ws, project_id)
        ).fetchone()

    @staticmethod
    def named(c: sqlite3.Connection, ws: str, name: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM projects WHERE workspace = ? AND name = ?", (ws, name)
        ).fetchone()

    def get_or_create(self, c: sqlite3.Connection, ws: str, name: str) -> str:
        row = self.named(c, ws, name)
        if row is not None:
            return row["id"]
        project_id, now = uuid7(), now_iso()
        c.execute(
            "INSERT INTO projects (id, workspace, name, created_at, created_by, last_updated_at,"
            " last_updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (project_id, ws, name, now, USER, now, USER),
        )
        return project_id

    def for_write(self, c: sqlite3.Connection, ws: str, scope: ProjectScoped) -> str | None:
        """The project a write lands in: ``project_id`` (404 if unknown), else
        ``project_name`` (created if new), else none."""
        if scope.project_id is not None:
            if not is_uuid(scope.project_id) or self.row(c, ws, scope.project_id) is None:
                raise not_found("Project not found")
            return scope.project_id
        if scope.project_name is not None:
            return self.get_or_create(c, ws, scope.project_name)
        return None

    def for_write_or_default(self, c: sqlite3.Connection, ws: str, scope: ProjectScoped) -> str:
        """As :meth:`for_write`; traces and spans without a project go to the default one."""
        return self.for_write(c, ws, scope) or self.get_or_create(c, ws, DEFAULT_PROJECT)

    # -- endpoints ---------------------------------------------------------------------------

    def create(self, ws: str, body: Mapping[str, Any]) -> str:
        request = parse(ProjectWrite, body)
        with self.db.write() as c:
            if self.named(c, ws, request.name) is not None:
                raise conflict("Project already exists")
            project_id = self.get_or_create(c, ws, request.name)
            c.execute(
                "UPDATE projects SET description = ?, visibility = ? WHERE id = ?",
                (request.description, request.visibility or "private", project_id),
            )
        return project_id

    def retrieve(self, ws: str, body: Mapping[str, Any]) -> dict[str, Any]:
        request = parse(ProjectRetrieve, body)
        with self.db.read() as c:
            row = self.named(c, ws, request.name)
        if row is None:
            raise not_found("Project not found")
        return _as_dict(row)

    def get(self, ws: str, project_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            row = self.row(c, ws, project_id)
        if row is None:
            raise not_found("Project not found")
        return _as_dict(row)

    def listing(
        self, ws: str, page: int, size: int, name: str | None, sorting: str | None
    ) -> dict[str, Any]:
        check_paging(page, size)
        keys = flt.parse_sorting(sorting, PROJECT_SORTABLE)
        with self.db.read() as c:
            rows = c.execute("SELECT * FROM projects WHERE workspace = ?", (ws,)).fetchall()
        projects = [_as_dict(r) for r in rows]
        if name:
            projects = [p for p in projects if name.lower() in p["name"].lower()]
        return page_of(flt.sort_rows(projects, keys), page, size, PROJECT_SORTABLE)
