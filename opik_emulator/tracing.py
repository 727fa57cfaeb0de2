"""Traces, spans and their feedback scores.

Traces and spans keep their payload as JSON, merged on every write of the same id (the SDK
may send a trace's update before its create). Only what the experiment views need is a
column. Feedback scores are kept per (entity, name, author): a new value from the same author
replaces the old one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import ConfigDict

from opik_emulator.db import Database
from opik_emulator.errors import not_found
from opik_emulator.ids import is_uuid, now_iso, uuid7
from opik_emulator.projects import Projects, ProjectScoped
from opik_emulator.rows import USER, compact, placeholders
from opik_emulator.validation import (
    MAX_BATCH,
    MISSING,
    Body,
    NotBlank,
    NotNull,
    Required,
    batch_of,
    constrained,
    parse,
    uuid_id,
)

_STORED_BODY = {
    "trace": "SELECT body FROM traces WHERE id = ?",
    "span": "SELECT body FROM spans WHERE id = ?",
}


class Entity(ProjectScoped):
    """A trace or span as sent: every field is kept, only the id is checked."""

    model_config = ConfigDict(extra="allow")


class TraceWrite(Entity):
    id: Annotated[str | None, uuid_id("trace")] = None


class SpanWrite(Entity):
    id: Annotated[str | None, uuid_id("span")] = None


class TraceBatch(Body):
    traces: Annotated[list[TraceWrite], Required, NotNull] = MISSING


class SpanBatch(Body):
    spans: Annotated[list[SpanWrite], Required, NotNull] = MISSING


class ScoreWrite(Body):
    """``FeedbackScoreBatchItem``: one author's value of ``name`` on an entity."""

    id: Annotated[str, Required, NotNull, constrained(is_uuid, "must be a UUID")] = MISSING
    name: NotBlank = MISSING
    value: Annotated[float, Required, NotNull] = MISSING
    category_name: str | None = None
    reason: str | None = None
    source: str | None = None
    author: str | None = None


class ScoreBatch(Body):
    scores: Annotated[list[ScoreWrite], Required, batch_of(MAX_BATCH)] = MISSING


class Tracing:
    def __init__(self, db: Database, projects: Projects) -> None:
        self.db = db
        self.projects = projects

    def upsert(self, ws: str, entity: str, body: Mapping[str, Any]) -> None:
        """``POST /traces/batch`` or ``/spans/batch`` (``body`` holds ``traces``/``spans``)."""
        if entity == "trace":
            items: Sequence[Entity] = parse(TraceBatch, body).traces
        else:
            items = parse(SpanBatch, body).spans
        with self.db.write() as c:
            for item in items:
                self._upsert(c, ws, entity, item.model_dump())

    def update(self, ws: str, entity: str, item_id: str, body: Mapping[str, Any]) -> None:
        """``PATCH /traces/{id}`` (or spans): merged into what is stored, created if new."""
        model = TraceWrite if entity == "trace" else SpanWrite
        item = parse(model, {**body, "id": item_id})
        with self.db.write() as c:
            self._upsert(c, ws, entity, item.model_dump())

    def _upsert(self, c: sqlite3.Connection, ws: str, entity: str, item: Mapping[str, Any]) -> None:
        item_id = item.get("id") or uuid7()
        old = c.execute(_STORED_BODY[entity], (item_id,)).fetchone()
        merged = {**(json.loads(old[0]) if old else {}), **compact(item), "id": item_id}
        scope = ProjectScoped(
            project_id=merged.get("project_id"), project_name=merged.get("project_name")
        )
        project_id = self.projects.for_write_or_default(c, ws, scope)
        if entity == "trace":
            c.execute(
                "INSERT INTO traces (id, workspace, project_id, body, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (item_id, ws, project_id, json.dumps(merged), now_iso()),
            )
        else:
            c.execute(
                "INSERT INTO spans (id, workspace, trace_id, project_id, body, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (item_id, ws, merged.get("trace_id"), project_id, json.dumps(merged), now_iso()),
            )

    def get_trace(self, ws: str, trace_id: str) -> dict[str, Any]:
        """``Trace_Public`` with each author's feedback score."""
        with self.db.read() as c:
            row = c.execute(
                "SELECT * FROM traces WHERE workspace = ? AND id = ?", (ws, trace_id)
            ).fetchone()
            if row is None:
                raise not_found("Trace not found")
            scores = c.execute(
                "SELECT body FROM feedback_scores WHERE workspace = ? AND entity_type = 'trace'"
                " AND entity_id = ? ORDER BY name, author",
                (ws, trace_id),
            ).fetchall()
        trace = {**json.loads(row["body"]), "project_id": row["project_id"]}
        trace["feedback_scores"] = [json.loads(s[0]) for s in scores]
        trace.pop("project_name", None)
        return trace

    def score(self, ws: str, kind: str, body: Mapping[str, Any]) -> None:
        """``PUT /traces/feedback-scores`` (or spans): one value per (entity, name, author)."""
        scores = parse(ScoreBatch, body).scores
        now = now_iso()
        rows = []
        for score in scores:
            author = score.author or USER
            stored = compact(
                {
                    "name": score.name,
                    "category_name": score.category_name,
                    "value": score.value,
                    "reason": score.reason,
                    "source": score.source or "sdk",
                    "created_by": author,
                    "last_updated_by": author,
                    "created_at": now,
                    "last_updated_at": now,
                }
            )
            rows.append((ws, kind, score.id, score.name, author, score.value, json.dumps(stored)))
        with self.db.write() as c:
            c.executemany(
                "INSERT OR REPLACE INTO feedback_scores (workspace, entity_type, entity_id,"
                " name, author, value, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    # -- for the experiment views ------------------------------------------------------------

    @staticmethod
    def traces(c: sqlite3.Connection, ws: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored traces among ``ids`` (payload plus ``project_id``), by id."""
        rows = c.execute(
            "SELECT id, project_id, body FROM traces"
            f" WHERE workspace = ? AND id IN ({placeholders(ids)})",
            [ws, *ids],
        ).fetchall()
        return {r["id"]: {**json.loads(r["body"]), "project_id": r["project_id"]} for r in rows}

    @staticmethod
    def scores_by_trace(
        c: sqlite3.Connection, ws: str, trace_ids: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Each trace's ``FeedbackScore`` list, one entry per name, as the experiment items
        carry them: one author's value as is, several authors' mean (to 9 places), with
        ``value_by_author``. One query for all the traces."""
        rows = c.execute(
            "SELECT entity_id, name, author, value, body FROM feedback_scores"
            " WHERE workspace = ? AND entity_type = 'trace'"
            f" AND entity_id IN ({placeholders(trace_ids)}) ORDER BY entity_id, name, author",
            [ws, *trace_ids],
        ).fetchall()
        grouped: dict[tuple[str, str], list[sqlite3.Row]] = {}
        for row in rows:
            grouped.setdefault((row["entity_id"], row["name"]), []).append(row)
        result: dict[str, list[dict[str, Any]]] = {}
        for (trace_id, name), entries in grouped.items():
            result.setdefault(trace_id, []).append(_aggregate(name, entries))
        return result


def _aggregate(name: str, entries: Sequence[sqlite3.Row]) -> dict[str, Any]:
    bodies = [json.loads(e["body"]) for e in entries]
    values = [e["value"] for e in entries]
    value = values[0] if len(values) == 1 else round(sum(values) / len(values), 9)
    reasons = [b["reason"] for b in bodies if b.get("reason")]
    categories = [b["category_name"] for b in bodies if b.get("category_name")]
    return compact(
        {
            "name": name,
            "category_name": ", ".join(categories) or None,
            "value": value,
            "reason": ", ".join(reasons) or None,
            "source": bodies[0].get("source", "sdk"),
            "created_at": min(b["created_at"] for b in bodies),
            "last_updated_at": max(b["last_updated_at"] for b in bodies),
            "created_by": ", ".join(b["created_by"] for b in bodies),
            "last_updated_by": ", ".join(b["last_updated_by"] for b in bodies),
            "value_by_author": {
                e["author"]: compact(
                    {
                        "value": e["value"],
                        "reason": b.get("reason"),
                        "category_name": b.get("category_name"),
                        "source": b.get("source", "sdk"),
                        "last_updated_at": b["last_updated_at"],
                        "author": e["author"],
                    }
                )
                for e, b in zip(entries, bodies, strict=True)
            },
        }
    )
