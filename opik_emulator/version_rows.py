"""Prompt versions as rows: looked up, inserted, and turned into the backend's DTOs.

Used inside the callers' transactions (``c`` is their connection). A version is immutable
once inserted: only its tags and the environments it owns change later.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opik_emulator.environments import Environments
from opik_emulator.errors import conflict
from opik_emulator.ids import commit_of, is_uuid, now_iso, uuid7
from opik_emulator.rows import USER, compact, dumps_or_none, loads_or_none, placeholders
from opik_emulator.templates import extract_variables


@dataclass(frozen=True)
class NewVersion:
    """What a new version holds; ``id`` and ``commit`` only when the client chose them."""

    template: str
    metadata: Any = None
    type: str | None = None
    version_type: str | None = None
    change_description: str | None = None
    tags: list[str] | None = None
    id: str | None = None
    commit: str | None = None


def row(c: sqlite3.Connection, ws: str, version_id: str) -> sqlite3.Row | None:
    if not is_uuid(version_id):
        return None
    return c.execute(
        "SELECT * FROM prompt_versions WHERE workspace = ? AND id = ?", (ws, version_id)
    ).fetchone()


def rows(c: sqlite3.Connection, ws: str, version_ids: Sequence[str]) -> list[sqlite3.Row]:
    """The versions among ``version_ids`` that exist in ``ws``, in the order asked."""
    found = {
        r["id"]: r
        for r in c.execute(
            f"SELECT * FROM prompt_versions WHERE workspace = ? AND id IN ({placeholders(version_ids)})",
            [ws, *version_ids],
        )
    }
    return [found[i] for i in version_ids if i in found]


def latest(c: sqlite3.Connection, prompt_id: str) -> sqlite3.Row | None:
    # "Latest" is the highest UUIDv7, as in the backend (ORDER BY id DESC LIMIT 1).
    return c.execute(
        "SELECT * FROM prompt_versions WHERE prompt_id = ? AND version_type = 'prompt_version'"
        " ORDER BY id DESC LIMIT 1",
        (prompt_id,),
    ).fetchone()


def by_commit(c: sqlite3.Connection, prompt_id: str, commit: str) -> sqlite3.Row | None:
    return c.execute(
        "SELECT * FROM prompt_versions WHERE prompt_id = ? AND commit_hash = ?",
        (prompt_id, commit),
    ).fetchone()


def by_number(c: sqlite3.Connection, prompt_id: str, number: str) -> sqlite3.Row | None:
    """``number`` as on the wire: ``"v3"``."""
    return c.execute(
        "SELECT * FROM prompt_versions WHERE prompt_id = ? AND version_number = ?",
        (prompt_id, int(number[1:])),
    ).fetchone()


def as_dicts(
    c: sqlite3.Connection,
    versions: Sequence[sqlite3.Row],
    *,
    variables: bool,
    structures: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """``PromptVersion_Detail`` (``variables=True``) or ``PromptVersion_Public`` per row.

    The environments of all the rows come from one query, and so do their prompts'
    ``template_structure`` unless the caller knows them (``structures``: prompt id → value).
    """
    owned = Environments.names_by_version(c, [v["id"] for v in versions])
    if structures is None:
        prompt_ids = list({v["prompt_id"] for v in versions})
        structures = dict(
            c.execute(
                "SELECT id, template_structure FROM prompts"
                f" WHERE id IN ({placeholders(prompt_ids)})",
                prompt_ids,
            ).fetchall()
        )
    result = []
    for v in versions:
        number = v["version_number"]
        entry = compact(
            {
                "id": v["id"],
                "prompt_id": v["prompt_id"],
                "commit": v["commit_hash"],
                "version_number": None if number is None else f"v{number}",
                "template": v["template"],
                "metadata": loads_or_none(v["metadata"]),
                "type": v["type"],
                "version_type": v["version_type"],
                "environments": owned[v["id"]],
                "change_description": v["change_description"],
                "tags": loads_or_none(v["tags"]),
                "template_structure": structures.get(v["prompt_id"]),
                "created_at": v["created_at"],
                "created_by": v["created_by"],
            }
        )
        if variables:
            entry["variables"] = extract_variables(v["template"], v["type"])
        result.append(entry)
    return result


def as_dict(
    c: sqlite3.Connection, version: sqlite3.Row | None, prompt: sqlite3.Row | None = None
) -> dict[str, Any]:
    """``PromptVersion_Detail`` of one version (``prompt``: its prompt's row, when known).
    ``version`` is one the caller just read or wrote: it exists."""
    assert version is not None
    structures = None if prompt is None else {prompt["id"]: prompt["template_structure"]}
    return as_dicts(c, [version], variables=True, structures=structures)[0]


def _commit_taken(c: sqlite3.Connection, prompt_id: str, commit: str) -> bool:
    return by_commit(c, prompt_id, commit) is not None


def _new_id(c: sqlite3.Connection, prompt_id: str, *, chosen_commit: bool) -> str:
    """A new version id; unless the client chose the commit, one whose commit is free (the
    backend draws again on a collision, up to 3 times)."""
    for _ in range(3):
        version_id = uuid7()
        if chosen_commit or not _commit_taken(c, prompt_id, commit_of(version_id)):
            break
    return version_id


def insert(c: sqlite3.Connection, ws: str, prompt_id: str, version: NewVersion) -> str:
    """Insert a version of ``prompt_id``; the caller holds the write transaction.

    A client-chosen id or commit that exists is a 409. A generated commit (the id's last 8
    characters) can collide: the backend draws a new id, up to 3 times, and so does this.
    """
    version_type = version.version_type or "prompt_version"
    if (
        version.id is not None
        and c.execute("SELECT 1 FROM prompt_versions WHERE id = ?", (version.id,)).fetchone()
    ):
        raise conflict("Prompt version already exists")
    if version.commit is not None and _commit_taken(c, prompt_id, version.commit):
        raise conflict("Prompt version already exists")
    version_id = version.id or _new_id(c, prompt_id, chosen_commit=version.commit is not None)
    commit = version.commit or commit_of(version_id)
    number = None
    if version_type == "prompt_version":  # masks have no number
        number = c.execute(
            "SELECT COALESCE(MAX(version_number), 0) + 1 FROM prompt_versions WHERE prompt_id = ?",
            (prompt_id,),
        ).fetchone()[0]
    now = now_iso()
    try:
        c.execute(
            "INSERT INTO prompt_versions (id, workspace, prompt_id, commit_hash, version_number,"
            " template, metadata, type, version_type, change_description, tags, created_at,"
            " created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (version_id, ws, prompt_id, commit, number, version.template,
             dumps_or_none(version.metadata), version.type or "mustache", version_type,
             version.change_description, dumps_or_none(version.tags), now, USER),
        )  # fmt: skip
    except sqlite3.IntegrityError:
        raise conflict("Prompt version already exists") from None
    c.execute(
        "UPDATE prompts SET last_updated_at = ?, last_updated_by = ? WHERE id = ?",
        (now, USER, prompt_id),
    )
    return version_id
