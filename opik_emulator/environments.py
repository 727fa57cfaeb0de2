"""Environments: a registry per workspace, and which version of a prompt owns each one.

A version can own several environments; an environment has at most one owner per prompt (the
primary key of ``version_environments``). Setting a version's environments moves them from
whichever sibling owned them. Creating a version with ``environments`` registers the names the
workspace does not know yet and gives the new version ownership, unless a sibling already owns
one of them (409); see :meth:`Environments.claim_for_new_version`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any

from opik_emulator.db import Database
from opik_emulator.errors import conflict, not_found
from opik_emulator.ids import now_iso, uuid7
from opik_emulator.rows import USER, compact, placeholders
from opik_emulator.validation import (
    MISSING,
    Body,
    EnvironmentName,
    RequiredEnvironmentName,
    RequiredEnvironmentNames,
    UuidBatch,
    constrained,
    parse,
    uuid7_id,
)

# Opik seeds these in every workspace (migrations 000066/000067).
DEFAULT_ENVIRONMENTS = (
    ("development", "#945FCF"),
    ("staging", "#12A4B4"),
    ("production", "#19A979"),
)
# The colours the backend gives an environment it registers itself (EnvironmentService).
AUTO_COLORS = (
    "#64748b", "#8b5cf6", "#bf399e", "#f43f5e", "#ef4444",
    "#f97316", "#eab308", "#10b981", "#06b6d4", "#3b82f6",
)  # fmt: skip


def auto_color(name: str) -> str:
    """``AUTO_COLORS[floorMod(name.hashCode(), 10)]``, with Java's ``String.hashCode``."""
    code = 0
    for char in name:  # names are ASCII ([A-Za-z0-9_-]): one UTF-16 unit per character
        code = (31 * code + ord(char)) & 0xFFFFFFFF
    if code >= 1 << 31:
        code -= 1 << 32
    return AUTO_COLORS[code % len(AUTO_COLORS)]


class EnvironmentFields(Body):
    description: Annotated[
        str | None, constrained(lambda v: len(v) <= 500, "size must be between 0 and 500")
    ] = None
    color: Annotated[
        str | None, constrained(lambda v: len(v) <= 20, "size must be between 0 and 20")
    ] = None
    position: int | None = None


class EnvironmentWrite(EnvironmentFields):
    id: Annotated[str | None, uuid7_id("environment")] = None
    name: RequiredEnvironmentName = MISSING


class EnvironmentUpdate(EnvironmentFields):
    name: EnvironmentName = None


class EnvironmentIds(Body):
    ids: UuidBatch = MISSING


class VersionEnvironments(Body):
    """``PromptVersionEnvironmentUpdate``: the version's full set; ``[]`` clears it."""

    environments: RequiredEnvironmentNames = MISSING


_FIELDS = (
    "id", "name", "description", "color", "position", "created_at", "created_by",
    "last_updated_at", "last_updated_by",
)  # fmt: skip


def _as_dict(row: sqlite3.Row) -> dict[str, Any]:
    return compact({key: row[key] for key in _FIELDS})


class Environments:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._seeded: set[str] = set()

    def seed(self, ws: str) -> None:
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
                self._insert(
                    c, ws, [(n, color, p) for p, (n, color) in enumerate(DEFAULT_ENVIRONMENTS)]
                )
                c.execute(
                    "INSERT INTO workspaces (name, environments_seeded) VALUES (?, 1)"
                    " ON CONFLICT (name) DO UPDATE SET environments_seeded = 1",
                    (ws,),
                )
        self._seeded.add(ws)

    @staticmethod
    def _insert(c: sqlite3.Connection, ws: str, rows: Iterable[tuple[str, str, int]]) -> None:
        now = now_iso()
        c.executemany(
            "INSERT OR IGNORE INTO environments (id, workspace, name, color, position,"
            " created_at, created_by, last_updated_at, last_updated_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (uuid7(), ws, name, color, position, now, USER, now, USER)
                for name, color, position in rows
            ],
        )

    @staticmethod
    def named(c: sqlite3.Connection, ws: str, name: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM environments WHERE workspace = ? AND name = ?", (ws, name)
        ).fetchone()

    # -- the registry --------------------------------------------------------------------------

    def create(self, ws: str, body: Mapping[str, Any]) -> str:
        request = parse(EnvironmentWrite, body)
        self.seed(ws)
        with self.db.write() as c:
            if self.named(c, ws, request.name) is not None or (
                request.id
                and c.execute("SELECT 1 FROM environments WHERE id = ?", (request.id,)).fetchone()
            ):
                raise conflict("Environment already exists")
            position = request.position
            if position is None:
                position = c.execute(
                    "SELECT COALESCE(MAX(position), -1) + 1 FROM environments WHERE workspace = ?",
                    (ws,),
                ).fetchone()[0]
            env_id, now = request.id or uuid7(), now_iso()
            c.execute(
                "INSERT INTO environments (id, workspace, name, description, color, position,"
                " created_at, created_by, last_updated_at, last_updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (env_id, ws, request.name, request.description, request.color, position,
                 now, USER, now, USER),
            )  # fmt: skip
        return env_id

    def listing(self, ws: str) -> dict[str, Any]:
        self.seed(ws)
        with self.db.read() as c:
            rows = c.execute(
                "SELECT * FROM environments WHERE workspace = ? ORDER BY position, name", (ws,)
            ).fetchall()
        envs = [_as_dict(r) for r in rows]
        return {"page": 1, "size": len(envs), "total": len(envs), "content": envs}

    def get(self, ws: str, env_id: str) -> dict[str, Any]:
        self.seed(ws)
        with self.db.read() as c:
            return _as_dict(self._row(c, ws, env_id))

    def update(self, ws: str, env_id: str, body: Mapping[str, Any]) -> None:
        request = parse(EnvironmentUpdate, body)
        self.seed(ws)
        with self.db.write() as c:
            row = self._row(c, ws, env_id)
            name = request.name
            if name is not None and name != row["name"] and self.named(c, ws, name):
                raise conflict("Environment already exists")
            c.execute(
                "UPDATE environments SET name = COALESCE(?, name),"
                " description = COALESCE(?, description), color = COALESCE(?, color),"
                " position = COALESCE(?, position), last_updated_at = ?, last_updated_by = ?"
                " WHERE id = ?",
                (name, request.description, request.color, request.position,
                 now_iso(), USER, env_id),
            )  # fmt: skip

    @staticmethod
    def _row(c: sqlite3.Connection, ws: str, env_id: str) -> sqlite3.Row:
        row = c.execute(
            "SELECT * FROM environments WHERE workspace = ? AND id = ?", (ws, env_id)
        ).fetchone()
        if row is None:
            raise not_found("Environment not found")
        return row

    def delete(self, ws: str, body: Mapping[str, Any]) -> None:
        """Batch delete; also clears the environments from every version that held them."""
        request = parse(EnvironmentIds, body)
        self.seed(ws)
        with self.db.write() as c:
            c.executemany(
                "DELETE FROM environments WHERE workspace = ? AND id = ?",
                [(ws, i) for i in request.ids],
            )

    # -- ownership -----------------------------------------------------------------------------

    @staticmethod
    def names_by_version(c: sqlite3.Connection, version_ids: Sequence[str]) -> dict[str, list[str]]:
        """Each version's environment names, in the registry's order: one query for all."""
        owned: dict[str, list[str]] = {v: [] for v in version_ids}
        if not version_ids:
            return owned
        rows = c.execute(
            "SELECT ve.version_id, e.name FROM version_environments ve"
            " JOIN environments e ON e.id = ve.environment_id"
            f" WHERE ve.version_id IN ({placeholders(version_ids)})"
            " ORDER BY e.position, e.name",
            list(version_ids),
        ).fetchall()
        for version_id, name in rows:
            owned[version_id].append(name)
        return owned

    @staticmethod
    def owner(
        c: sqlite3.Connection, ws: str, prompt_id: str, environment: str
    ) -> sqlite3.Row | None:
        """The version of ``prompt_id`` that owns ``environment``, if any."""
        return c.execute(
            "SELECT v.* FROM version_environments ve"
            " JOIN environments e ON e.id = ve.environment_id"
            " JOIN prompt_versions v ON v.id = ve.version_id"
            " WHERE ve.prompt_id = ? AND e.workspace = ? AND e.name = ?",
            (prompt_id, ws, environment),
        ).fetchone()

    def set_for_version(self, ws: str, version: sqlite3.Row, names: Sequence[str]) -> None:
        """``names`` become the version's full set of environments, each one moving here
        from any sibling version; an unknown name is 404."""
        self.seed(ws)
        with self.db.write() as c:
            env_ids = []
            for name in names:
                env = self.named(c, ws, name)
                if env is None:
                    raise not_found(f"Environment not found: {name}")
                env_ids.append(env["id"])
            c.execute("DELETE FROM version_environments WHERE version_id = ?", (version["id"],))
            self._own(c, version["prompt_id"], version["id"], env_ids)

    @staticmethod
    def _own(
        c: sqlite3.Connection, prompt_id: str, version_id: str, env_ids: Sequence[str]
    ) -> None:
        # REPLACE: the (prompt, environment) key leaves its previous owner.
        c.executemany(
            "INSERT OR REPLACE INTO version_environments (prompt_id, environment_id, version_id)"
            " VALUES (?, ?, ?)",
            [(prompt_id, env_id, version_id) for env_id in env_ids],
        )

    def register(self, ws: str, names: Sequence[str]) -> None:
        """Add the names the workspace does not know (compared case-insensitively, as the
        backend's ``bulkCreate``), with an automatic colour at position 0. Committed on its
        own: they stay registered even when the version they came with is refused."""
        if not names:
            return
        self.seed(ws)
        with self.db.write() as c:
            known = {
                row[0].lower()
                for row in c.execute("SELECT name FROM environments WHERE workspace = ?", (ws,))
            }
            new: dict[str, str] = {}  # one registration per name, whatever its spelling
            for name in names:
                if name.lower() not in known:
                    new.setdefault(name.lower(), name)
            self._insert(c, ws, [(n, auto_color(n), 0) for n in new.values()])

    def claim_for_new_version(
        self, c: sqlite3.Connection, ws: str, prompt_id: str, version_id: str, names: Sequence[str]
    ) -> None:
        """Give a version being created its ``environments`` (already registered). If a
        sibling version owns one of them, the create is refused with 409, as the backend's
        ``createVersionWithEnvironment`` does: ownership moves only through the PATCH."""
        if not names:
            return
        rows = c.execute(
            "SELECT id, name FROM environments WHERE workspace = ?"
            f" AND lower(name) IN ({placeholders(names)})",
            [ws, *(n.lower() for n in names)],
        ).fetchall()
        env_ids = [row["id"] for row in rows]
        taken = c.execute(
            "SELECT e.name FROM version_environments ve JOIN environments e"
            " ON e.id = ve.environment_id WHERE ve.prompt_id = ?"
            f" AND ve.environment_id IN ({placeholders(env_ids)}) ORDER BY e.name",
            [prompt_id, *env_ids],
        ).fetchall()
        if taken:
            # Java's Set.toString inside quotes: '[production, staging]'.
            listed = ", ".join(row[0] for row in taken)
            raise conflict(f"Environments already mapped to another version: '[{listed}]'")
        self._own(c, prompt_id, version_id, env_ids)
