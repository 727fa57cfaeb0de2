"""Experiments: runs over a dataset, linked to the prompt versions they evaluated, with the
feedback-score averages of their traces.

``GET /experiments?prompt_id=`` is what a prompt-performance view reads: each experiment's
``prompt_versions`` and ``feedback_scores`` (per trace the mean over authors, then per name
the mean over the experiment's traces), computed for a whole page in a few queries.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from opik_emulator import version_rows
from opik_emulator.datasets import Datasets, DatasetWrite
from opik_emulator.db import Database
from opik_emulator.errors import conflict, not_found
from opik_emulator.ids import is_uuid, now_iso, uuid7
from opik_emulator.paging import check_paging, offset, paged
from opik_emulator.projects import Projects, ProjectScoped
from opik_emulator.rows import USER, compact, placeholders
from opik_emulator.validation import (
    MAX_BATCH,
    MISSING,
    Body,
    NotBlank,
    NotNull,
    NullOrNotBlank,
    Required,
    StreamLimit,
    batch_of,
    constrained,
    parse,
    uuid_id,
)

EXPERIMENT_SORTABLE = ("id", "name", "created_at", "last_updated_at", "trace_count")
# Kept as given and answered back; nothing in the emulator depends on them.
STORED_FIELDS = (
    "metadata", "tags", "type", "evaluation_method", "optimization_id", "status",
    "experiment_scores",
)  # fmt: skip
UPDATABLE_FIELDS = ("metadata", "tags", "type", "status", "experiment_scores")


class PromptVersionRef(Body):
    id: str | None = None


class ExperimentWrite(ProjectScoped):
    """``Experiment_Write``: the dataset by name (created when new), prompt versions by id
    (``prompt_versions``, or the legacy single ``prompt_version``)."""

    id: Annotated[str | None, uuid_id("experiment")] = None
    name: str | None = None
    dataset_name: NotBlank = MISSING
    metadata: Any = None
    tags: Any = None
    type: str | None = None
    evaluation_method: str | None = None
    optimization_id: str | None = None
    status: str | None = None
    experiment_scores: Any = None
    prompt_versions: list[PromptVersionRef] | None = None
    prompt_version: PromptVersionRef | None = None


class ExperimentUpdate(Body):
    name: str | None = None
    metadata: Any = None
    tags: Any = None
    type: str | None = None
    status: str | None = None
    experiment_scores: Any = None


Reference = Annotated[str, Required, NotNull, constrained(is_uuid, "must be a UUID")]


class ItemReference(Body):
    """``ExperimentItem``: which trace evaluated which dataset item in which experiment."""

    id: str | None = None
    experiment_id: Reference = MISSING
    dataset_item_id: Reference = MISSING
    trace_id: Reference = MISSING


class ExperimentsStreamRequest(Body):
    """``ExperimentStreamRequest``: experiments whose name contains ``name``."""

    name: NotBlank = MISSING
    limit: StreamLimit = None
    last_retrieved_id: uuid.UUID | None = None  # Jackson reads a UUID: 400 otherwise
    project_name: NullOrNotBlank = None


class ItemReferences(Body):
    experiment_items: Annotated[list[ItemReference], Required, batch_of(MAX_BATCH)] = MISSING


# The listing's filters, each one inactive when its parameter is null.
_WHERE = (
    "WHERE e.workspace = :ws"
    " AND (:prompt_id IS NULL OR EXISTS (SELECT 1 FROM experiment_prompt_versions l"
    " JOIN prompt_versions v ON v.id = l.prompt_version_id"
    " WHERE l.experiment_id = e.id AND v.prompt_id = :prompt_id))"
    " AND (:dataset_id IS NULL OR e.dataset_id = :dataset_id)"
    " AND (:project_id IS NULL OR e.project_id = :project_id)"
    " AND (:name IS NULL OR instr(lower(e.name), lower(:name)) > 0)"
    " AND (:optimization_id IS NULL"
    " OR json_extract(e.body, '$.optimization_id') = :optimization_id)"
)
_NO_FILTER = dict.fromkeys(("prompt_id", "dataset_id", "project_id", "name", "optimization_id"))


class Experiments:
    def __init__(self, db: Database, projects: Projects, datasets: Datasets) -> None:
        self.db = db
        self.projects = projects
        self.datasets = datasets

    def create(self, ws: str, body: Mapping[str, Any]) -> str:
        """``POST /experiments``; every linked prompt version must exist (404)."""
        request = parse(ExperimentWrite, body)
        experiment_id = request.id or uuid7()
        links = list(request.prompt_versions or [])
        if request.prompt_version is not None:
            links.append(request.prompt_version)
        with self.db.write() as c:
            dataset = self.datasets.named(c, ws, request.dataset_name)
            if dataset is None:
                dataset_id = self.datasets.insert(c, ws, DatasetWrite(name=request.dataset_name))
            else:
                dataset_id = dataset["id"]
            if c.execute("SELECT 1 FROM experiments WHERE id = ?", (experiment_id,)).fetchone():
                raise conflict("Experiment already exists")
            project_id = self.projects.for_write(c, ws, request)
            stored = request.model_dump(include=set(STORED_FIELDS), exclude_none=True)
            name = request.name or f"experiment-{experiment_id[-8:]}"
            now = now_iso()
            c.execute(
                "INSERT INTO experiments (id, workspace, dataset_id, project_id, name, body,"
                " created_at, last_updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (experiment_id, ws, dataset_id, project_id, name, json.dumps(stored), now, now),
            )
            linked = [link.id or "" for link in links]
            if linked and len(version_rows.rows(c, ws, linked)) != len(linked):
                raise not_found("Prompt version not found")
            c.executemany(
                "INSERT OR IGNORE INTO experiment_prompt_versions VALUES (?, ?)",
                [(experiment_id, link.id) for link in links],
            )
        return experiment_id

    def update(self, ws: str, experiment_id: str, body: Mapping[str, Any]) -> None:
        request = parse(ExperimentUpdate, body)
        with self.db.write() as c:
            row = self._row(c, ws, experiment_id)
            stored = {
                **json.loads(row["body"]),
                **request.model_dump(include=set(UPDATABLE_FIELDS), exclude_none=True),
            }
            c.execute(
                "UPDATE experiments SET name = COALESCE(?, name), body = ?, last_updated_at = ?"
                " WHERE id = ?",
                (request.name, json.dumps(stored), now_iso(), experiment_id),
            )

    def add_items(self, ws: str, body: Mapping[str, Any]) -> None:
        """``POST /experiments/items``: link dataset items to the traces that evaluated them."""
        items = parse(ItemReferences, body).experiment_items
        now = now_iso()
        with self.db.write() as c:
            c.executemany(
                "INSERT OR REPLACE INTO experiment_items (id, workspace, experiment_id,"
                " dataset_item_id, trace_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (i.id or uuid7(), ws, i.experiment_id, i.dataset_item_id, i.trace_id, now)
                    for i in items
                ],
            )

    @staticmethod
    def _row(c: sqlite3.Connection, ws: str, experiment_id: str) -> sqlite3.Row:
        row = c.execute(
            "SELECT * FROM experiments WHERE workspace = ? AND id = ?", (ws, experiment_id)
        ).fetchone()
        if row is None:
            raise not_found("Experiment not found")
        return row

    def get(self, ws: str, experiment_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            return self.as_dicts(c, ws, [self._row(c, ws, experiment_id)])[0]

    def listing(
        self,
        ws: str,
        *,
        page: int = 1,
        size: int = 10,
        prompt_id: str | None = None,
        dataset_id: str | None = None,
        project_id: str | None = None,
        name: str | None = None,
        optimization_id: str | None = None,
    ) -> dict[str, Any]:
        """``GET /experiments``, newest first. ``prompt_id`` matches experiments linked to any
        version of that prompt; ``name`` is a case-insensitive substring."""
        check_paging(page, size)
        where = {
            "ws": ws,
            "prompt_id": prompt_id,
            "dataset_id": dataset_id,
            "project_id": project_id,
            "name": name,
            "optimization_id": optimization_id,
        }
        with self.db.read() as c:
            total = c.execute(f"SELECT COUNT(*) FROM experiments e {_WHERE}", where).fetchone()[0]
            rows = c.execute(
                f"SELECT * FROM experiments e {_WHERE} ORDER BY e.id DESC LIMIT :size OFFSET :skip",
                {**where, "size": size, "skip": offset(page, size)},
            ).fetchall()
            return paged(self.as_dicts(c, ws, rows), page, total, EXPERIMENT_SORTABLE)

    def stream(self, ws: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A page of ``POST /experiments/stream`` (``Get experiment by name`` in the SDK):
        experiments whose name contains ``name`` (case-insensitive), ids below
        ``last_retrieved_id``, newest first; in ``project_name`` when given (unknown: none)."""
        request = parse(ExperimentsStreamRequest, body)
        last = request.last_retrieved_id
        with self.db.read() as c:
            project_id = None
            if request.project_name is not None:
                project = self.projects.named(c, ws, request.project_name)
                if project is None:
                    return []
                project_id = project["id"]
            where = {**_NO_FILTER, "ws": ws, "name": request.name, "project_id": project_id}
            rows = c.execute(
                f"SELECT * FROM experiments e {_WHERE} AND (:last IS NULL OR e.id < :last)"
                " ORDER BY e.id DESC LIMIT :limit",
                {
                    **where,
                    "last": None if last is None else str(last),
                    "limit": request.limit or 500,
                },
            ).fetchall()
            return self.as_dicts(c, ws, rows)

    @staticmethod
    def as_dicts(
        c: sqlite3.Connection, ws: str, rows: Sequence[sqlite3.Row]
    ) -> list[dict[str, Any]]:
        """``Experiment_Public`` per row. Dataset and project names, prompt-version links,
        counts and score averages come from one query each for all the rows."""
        ids = [r["id"] for r in rows]
        marks = placeholders(ids)
        dataset_ids = list({r["dataset_id"] for r in rows})
        datasets = dict(
            c.execute(
                f"SELECT id, name FROM datasets WHERE id IN ({placeholders(dataset_ids)})",
                dataset_ids,
            ).fetchall()
        )
        project_ids = list({r["project_id"] for r in rows if r["project_id"]})
        projects = dict(
            c.execute(
                f"SELECT id, name FROM projects WHERE id IN ({placeholders(project_ids)})",
                project_ids,
            ).fetchall()
        )
        links: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for link in c.execute(
            "SELECT l.experiment_id, v.id, v.commit_hash, v.prompt_id, p.name"
            " FROM experiment_prompt_versions l JOIN prompt_versions v ON v.id = l.prompt_version_id"
            f" JOIN prompts p ON p.id = v.prompt_id WHERE l.experiment_id IN ({marks}) ORDER BY v.id",
            ids,
        ):
            links[link[0]].append(
                {
                    "prompt_version_id": link[1],
                    "commit": link[2],
                    "prompt_id": link[3],
                    "prompt_name": link[4],
                }
            )
        counts = {
            r[0]: (r[1], r[2])
            for r in c.execute(
                "SELECT experiment_id, COUNT(DISTINCT trace_id), COUNT(DISTINCT dataset_item_id)"
                f" FROM experiment_items WHERE experiment_id IN ({marks}) GROUP BY experiment_id",
                ids,
            )
        }
        scores = _average_scores(c, ws, ids)
        result = []
        for row in rows:
            stored = json.loads(row["body"])
            traces, items = counts.get(row["id"], (0, 0))
            result.append(
                compact(
                    {
                        "id": row["id"],
                        "name": row["name"],
                        "dataset_name": datasets.get(row["dataset_id"]),
                        "dataset_id": row["dataset_id"],
                        "project_id": row["project_id"],
                        "project_name": projects.get(row["project_id"]),
                        "metadata": stored.get("metadata"),
                        "tags": stored.get("tags"),
                        "type": stored.get("type") or "regular",
                        "evaluation_method": stored.get("evaluation_method"),
                        "optimization_id": stored.get("optimization_id"),
                        "status": stored.get("status") or "running",
                        "feedback_scores": scores.get(row["id"], []),
                        "experiment_scores": stored.get("experiment_scores"),
                        "trace_count": traces,
                        "dataset_item_count": items,
                        "created_at": row["created_at"],
                        "last_updated_at": row["last_updated_at"],
                        "created_by": USER,
                        "last_updated_by": USER,
                        "prompt_versions": links[row["id"]],
                    }
                )
            )
        return result


def _average_scores(
    c: sqlite3.Connection, ws: str, experiment_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The backend's ``feedback_scores`` of each experiment: per trace and name the mean over
    authors, then per name the mean over the experiment's traces that have it, to 9 places
    (ClickHouse ``Decimal64(9)``)."""
    rows = c.execute(
        "WITH traces_of AS (SELECT DISTINCT experiment_id, trace_id FROM experiment_items"
        f" WHERE experiment_id IN ({placeholders(experiment_ids)})),"
        " per_trace AS (SELECT t.experiment_id, s.name, AVG(s.value) AS mean"
        " FROM traces_of t JOIN feedback_scores s ON s.workspace = ?"
        " AND s.entity_type = 'trace' AND s.entity_id = t.trace_id"
        " GROUP BY t.experiment_id, t.trace_id, s.name)"
        " SELECT experiment_id, name, AVG(mean) FROM per_trace"
        " GROUP BY experiment_id, name ORDER BY experiment_id, name",
        [*experiment_ids, ws],
    ).fetchall()
    averages: dict[str, list[dict[str, Any]]] = {}
    for experiment_id, name, mean in rows:
        averages.setdefault(experiment_id, []).append({"name": name, "value": round(mean, 9)})
    return averages
