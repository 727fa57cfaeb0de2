"""Datasets, traces, spans, feedback scores and experiments: enough of Opik's evaluation API
for ``create_experiment(prompts=...)``, dataset inserts, traces, experiment items and feedback
scores to work through the SDK, and for ``GET /experiments?prompt_id=`` to report per-prompt
performance as the backend computes it.

Traces and spans keep their payload as JSON; only what the experiment views need is a column.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from opik_emulator.errors import bad_request, conflict, not_found, unprocessable
from opik_emulator.ids import is_uuid, now_iso, uuid7
from opik_emulator.store import USER, Store, check_paging, compact, is_blank, loads_or_none, page_of

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    project_id TEXT,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    tags TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_updated_at TEXT NOT NULL,
    last_updated_by TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS datasets_by_name ON datasets (workspace, name);
CREATE TABLE IF NOT EXISTS dataset_items (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    dataset_id TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dataset_items_by_dataset ON dataset_items (dataset_id, id);
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    project_id TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    trace_id TEXT,
    project_id TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- One score per (entity, name, author): a new value from the same author replaces the old.
CREATE TABLE IF NOT EXISTS feedback_scores (
    workspace TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    name TEXT NOT NULL,
    author TEXT NOT NULL,
    value REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (workspace, entity_type, entity_id, name, author)
);
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    project_id TEXT,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS experiment_prompt_versions (
    experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    prompt_version_id TEXT NOT NULL,
    PRIMARY KEY (experiment_id, prompt_version_id)
);
CREATE TABLE IF NOT EXISTS experiment_items (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    dataset_item_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS experiment_items_by_experiment ON experiment_items (experiment_id);
"""

EXPERIMENT_SORTABLE = ("id", "name", "created_at", "last_updated_at", "trace_count")
DATASET_SORTABLE = ("id", "name", "created_at", "last_updated_at")


def _dumps(value: Any) -> str:
    return json.dumps(value)


class ExperimentStore:
    """The evaluation side of the emulator, sharing the prompt :class:`Store`'s database."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        self.db.executescript(_SCHEMA)

    # -- datasets --------------------------------------------------------------------------

    def _dataset_named(self, c: sqlite3.Connection, ws: str, name: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM datasets WHERE workspace = ? AND name = ?", (ws, name)
        ).fetchone()

    def _dataset_dict(self, c: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        count = c.execute(
            "SELECT COUNT(*) FROM dataset_items WHERE dataset_id = ?", (row["id"],)
        ).fetchone()[0]
        experiments = c.execute(
            "SELECT COUNT(*) FROM experiments WHERE dataset_id = ?", (row["id"],)
        ).fetchone()[0]
        return compact(
            {
                "id": row["id"],
                "name": row["name"],
                "project_id": row["project_id"],
                "type": row["type"],
                "visibility": "private",
                "tags": loads_or_none(row["tags"]),
                "description": row["description"],
                "created_at": row["created_at"],
                "created_by": row["created_by"],
                "last_updated_at": row["last_updated_at"],
                "last_updated_by": row["last_updated_by"],
                "experiment_count": experiments,
                "dataset_items_count": count,
                "status": "completed",
            }
        )

    def _create_dataset(self, c: sqlite3.Connection, ws: str, body: Mapping[str, Any]) -> str:
        name = body.get("name")
        if is_blank(name):
            raise unprocessable("name must not be blank")
        if self._dataset_named(c, ws, name) is not None:
            raise conflict("Dataset already exists")
        dataset_id = body.get("id") or uuid7()
        if not is_uuid(dataset_id):
            raise bad_request("dataset id must be a UUID")
        project_id = self.store.project_for_write(c, ws, body)
        now = now_iso()
        c.execute(
            "INSERT INTO datasets (id, workspace, project_id, name, description, type, tags,"
            " created_at, created_by, last_updated_at, last_updated_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                dataset_id,
                ws,
                project_id,
                name,
                body.get("description"),
                body.get("type") or "dataset",
                None if body.get("tags") is None else _dumps(body["tags"]),
                now,
                USER,
                now,
                USER,
            ),
        )
        return dataset_id

    def create_dataset(self, ws: str, body: Mapping[str, Any]) -> str:
        with self.db.write() as c:
            return self._create_dataset(c, ws, body)

    def retrieve_dataset(self, ws: str, name: Any) -> dict[str, Any]:
        if is_blank(name):
            raise unprocessable("dataset_name must not be blank")
        with self.db.read() as c:
            row = self._dataset_named(c, ws, name)
            if row is None:
                raise not_found("Dataset not found")
            return self._dataset_dict(c, row)

    def get_dataset(self, ws: str, dataset_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            row = c.execute(
                "SELECT * FROM datasets WHERE workspace = ? AND id = ?", (ws, dataset_id)
            ).fetchone()
            if row is None:
                raise not_found("Dataset not found")
            return self._dataset_dict(c, row)

    def list_datasets(self, ws: str, page: int, size: int, name: str | None) -> dict[str, Any]:
        check_paging(page, size)
        with self.db.read() as c:
            rows = c.execute(
                "SELECT * FROM datasets WHERE workspace = ? ORDER BY id DESC", (ws,)
            ).fetchall()
            datasets = [self._dataset_dict(c, r) for r in rows]
        if name:
            datasets = [d for d in datasets if name.lower() in d["name"].lower()]
        return page_of(datasets, page, size, DATASET_SORTABLE)

    def delete_dataset_by_name(self, ws: str, name: Any) -> None:
        with self.db.write() as c:
            row = self._dataset_named(c, ws, name) if isinstance(name, str) else None
            if row is None:
                raise not_found("Dataset not found")
            c.execute("DELETE FROM datasets WHERE id = ?", (row["id"],))

    def upsert_items(self, ws: str, body: Mapping[str, Any]) -> None:
        """``PUT /datasets/items``: insert or replace items by id (the dataset by name or id)."""
        items = body.get("items")
        if not isinstance(items, list) or not 1 <= len(items) <= 1000:
            raise unprocessable("items size must be between 1 and 1000")
        with self.db.write() as c:
            if body.get("dataset_id") is not None:
                dataset = c.execute(
                    "SELECT * FROM datasets WHERE workspace = ? AND id = ?",
                    (ws, body["dataset_id"]),
                ).fetchone()
            elif body.get("dataset_name") is not None:
                dataset = self._dataset_named(c, ws, body["dataset_name"])
                if dataset is None:  # the backend creates a dataset named in an item batch
                    self._create_dataset(
                        c,
                        ws,
                        {"name": body["dataset_name"], "project_name": body.get("project_name")},
                    )
                    dataset = self._dataset_named(c, ws, body["dataset_name"])
            else:
                raise unprocessable("dataset_name or dataset_id must be provided")
            if dataset is None:
                raise not_found("Dataset not found")
            now = now_iso()
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
                    raise unprocessable("items[].data must be an object")
                item_id = item.get("id") or uuid7()
                stored = compact({**item, "id": item_id, "dataset_id": dataset["id"]})
                c.execute(
                    "INSERT INTO dataset_items (id, workspace, dataset_id, body, created_at,"
                    " last_updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE"
                    " SET body = excluded.body, last_updated_at = excluded.last_updated_at",
                    (item_id, ws, dataset["id"], _dumps(stored), now, now),
                )

    def delete_items(self, ws: str, ids: Any) -> None:
        if not isinstance(ids, list):
            raise unprocessable("item_ids must not be null")
        with self.db.write() as c:
            c.executemany(
                "DELETE FROM dataset_items WHERE workspace = ? AND id = ?", [(ws, i) for i in ids]
            )

    @staticmethod
    def _item_dict(row: sqlite3.Row) -> dict[str, Any]:
        return {
            **json.loads(row["body"]),
            "created_at": row["created_at"],
            "last_updated_at": row["last_updated_at"],
            "created_by": USER,
            "last_updated_by": USER,
        }

    def list_items(self, ws: str, dataset_id: str, page: int, size: int) -> dict[str, Any]:
        """``GET /datasets/{id}/items``, newest first."""
        check_paging(page, size)
        with self.db.read() as c:
            rows = c.execute(
                "SELECT * FROM dataset_items WHERE workspace = ? AND dataset_id = ?"
                " ORDER BY id DESC",
                (ws, dataset_id),
            ).fetchall()
        return page_of([self._item_dict(r) for r in rows], page, size, ())

    def stream_items(self, ws: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A page of ``POST /datasets/items/stream``: ids below ``last_retrieved_id``, newest
        first, at most ``steam_limit`` (sic) of them."""
        with self.db.read() as c:
            dataset = self._dataset_named(c, ws, body.get("dataset_name") or "")
            if dataset is None:
                raise not_found("Dataset not found")
            sql = "SELECT * FROM dataset_items WHERE dataset_id = ?"
            args: list[Any] = [dataset["id"]]
            if body.get("last_retrieved_id"):
                sql += " AND id < ?"
                args.append(body["last_retrieved_id"])
            sql += " ORDER BY id DESC LIMIT ?"
            args.append(int(body.get("steam_limit") or 500))
            rows = c.execute(sql, args).fetchall()
        return [self._item_dict(r) for r in rows]

    # -- traces, spans and feedback scores ---------------------------------------------------

    def _project_of(self, c: sqlite3.Connection, ws: str, body: Mapping[str, Any]) -> str:
        # Traces and spans without a project go to Opik's default project.
        return self.store.project_for_write(c, ws, body) or self.store.get_or_create_project(
            c, ws, "Default Project"
        )

    def upsert_traces(self, ws: str, entity: str, items: Any) -> None:
        """``POST /traces/batch`` or ``/spans/batch``; a repeated id merges into the stored one."""
        if not isinstance(items, list):
            raise unprocessable(f"{entity}s must not be null")
        with self.db.write() as c:
            for item in items:
                self._upsert(c, ws, entity, item)

    def _upsert(self, c: sqlite3.Connection, ws: str, entity: str, item: Mapping[str, Any]) -> None:
        item_id = item.get("id") or uuid7()
        if not is_uuid(item_id):
            raise bad_request(f"{entity} id must be a UUID")
        table = "traces" if entity == "trace" else "spans"
        old = c.execute(f"SELECT body FROM {table} WHERE id = ?", (item_id,)).fetchone()
        merged = {**(json.loads(old[0]) if old else {}), **compact(item), "id": item_id}
        project_id = self._project_of(c, ws, merged)
        if entity == "trace":
            c.execute(
                "INSERT INTO traces (id, workspace, project_id, body, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (item_id, ws, project_id, _dumps(merged), now_iso()),
            )
        else:
            c.execute(
                "INSERT INTO spans (id, workspace, trace_id, project_id, body, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (item_id, ws, merged.get("trace_id"), project_id, _dumps(merged), now_iso()),
            )

    def update_trace(self, ws: str, entity: str, item_id: str, body: Mapping[str, Any]) -> None:
        """``PATCH /traces/{id}`` (or spans): the SDK may send it before the create lands."""
        with self.db.write() as c:
            self._upsert(c, ws, entity, {**body, "id": item_id})

    def get_trace(self, ws: str, trace_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            row = c.execute(
                "SELECT * FROM traces WHERE workspace = ? AND id = ?", (ws, trace_id)
            ).fetchone()
            if row is None:
                raise not_found("Trace not found")
            trace = {**json.loads(row["body"]), "project_id": row["project_id"]}
            trace["feedback_scores"] = self._scores(c, ws, "trace", trace_id)
        trace.pop("project_name", None)
        return trace

    def _scores(self, c: sqlite3.Connection, ws: str, kind: str, entity: str) -> list[dict]:
        rows = c.execute(
            "SELECT body FROM feedback_scores WHERE workspace = ? AND entity_type = ?"
            " AND entity_id = ? ORDER BY name, author",
            (ws, kind, entity),
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def score(self, ws: str, kind: str, scores: Any) -> None:
        """``PUT /traces/feedback-scores`` (or spans): one value per (entity, name, author)."""
        if not isinstance(scores, list) or not 1 <= len(scores) <= 1000:
            raise unprocessable("scores size must be between 1 and 1000")
        with self.db.write() as c:
            for score in scores:
                if not isinstance(score, dict) or not is_uuid(score.get("id")):
                    raise unprocessable("scores[].id must be a UUID")
                if is_blank(score.get("name")) or not isinstance(score.get("value"), int | float):
                    raise unprocessable("scores[] need a name and a numeric value")
                author = score.get("author") or USER
                stored = compact(
                    {
                        "name": score["name"],
                        "category_name": score.get("category_name"),
                        "value": score["value"],
                        "reason": score.get("reason"),
                        "source": score.get("source") or "sdk",
                        "created_by": author,
                        "last_updated_by": author,
                        "created_at": now_iso(),
                        "last_updated_at": now_iso(),
                    }
                )
                c.execute(
                    "INSERT OR REPLACE INTO feedback_scores (workspace, entity_type, entity_id,"
                    " name, author, value, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (ws, kind, score["id"], score["name"], author, float(score["value"]),
                     _dumps(stored)),
                )  # fmt: skip

    # -- experiments -----------------------------------------------------------------------

    def create_experiment(self, ws: str, body: Mapping[str, Any]) -> str:
        """``POST /experiments``; links prompt versions (``prompt_versions`` or the legacy
        ``prompt_version``) and the dataset, which must exist."""
        dataset_name = body.get("dataset_name")
        if is_blank(dataset_name):
            raise unprocessable("dataset_name must not be blank")
        experiment_id = body.get("id") or uuid7()
        if not is_uuid(experiment_id):
            raise bad_request("experiment id must be a UUID")
        links = list(body.get("prompt_versions") or [])
        if body.get("prompt_version"):
            links.append(body["prompt_version"])
        with self.db.write() as c:
            dataset = self._dataset_named(c, ws, dataset_name)
            if dataset is None:
                dataset_id = self._create_dataset(c, ws, {"name": dataset_name})
            else:
                dataset_id = dataset["id"]
            if c.execute("SELECT 1 FROM experiments WHERE id = ?", (experiment_id,)).fetchone():
                raise conflict("Experiment already exists")
            project_id = self.store.project_for_write(c, ws, body)
            stored = {
                k: body[k]
                for k in ("metadata", "tags", "type", "evaluation_method", "optimization_id",
                          "status", "experiment_scores")
                if body.get(k) is not None
            }  # fmt: skip
            now = now_iso()
            name = body.get("name") or f"experiment-{experiment_id[-8:]}"
            c.execute(
                "INSERT INTO experiments (id, workspace, dataset_id, project_id, name, body,"
                " created_at, last_updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (experiment_id, ws, dataset_id, project_id, name, _dumps(stored), now, now),
            )
            for link in links:
                version_id = link.get("id") if isinstance(link, dict) else None
                if self.store.version_row(c, ws, version_id or "") is None:
                    raise not_found("Prompt version not found")
                c.execute(
                    "INSERT OR IGNORE INTO experiment_prompt_versions VALUES (?, ?)",
                    (experiment_id, version_id),
                )
        return experiment_id

    def update_experiment(self, ws: str, experiment_id: str, body: Mapping[str, Any]) -> None:
        with self.db.write() as c:
            row = c.execute(
                "SELECT * FROM experiments WHERE workspace = ? AND id = ?", (ws, experiment_id)
            ).fetchone()
            if row is None:
                raise not_found("Experiment not found")
            stored = json.loads(row["body"])
            for key in ("metadata", "tags", "type", "status", "experiment_scores"):
                if body.get(key) is not None:
                    stored[key] = body[key]
            c.execute(
                "UPDATE experiments SET name = COALESCE(?, name), body = ?, last_updated_at = ?"
                " WHERE id = ?",
                (body.get("name"), _dumps(stored), now_iso(), experiment_id),
            )

    def add_items(self, ws: str, items: Any) -> None:
        """``POST /experiments/items``: link dataset items to the traces that evaluated them."""
        if not isinstance(items, list) or not 1 <= len(items) <= 1000:
            raise unprocessable("experiment_items size must be between 1 and 1000")
        with self.db.write() as c:
            for item in items:
                if not isinstance(item, dict) or not all(
                    is_uuid(item.get(k)) for k in ("experiment_id", "dataset_item_id", "trace_id")
                ):
                    raise unprocessable(
                        "experiment_items[] need experiment_id, dataset_item_id and trace_id"
                    )
                c.execute(
                    "INSERT OR REPLACE INTO experiment_items (id, workspace, experiment_id,"
                    " dataset_item_id, trace_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (item.get("id") or uuid7(), ws, item["experiment_id"],
                     item["dataset_item_id"], item["trace_id"], now_iso()),
                )  # fmt: skip

    def _experiment_dict(self, c: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        stored = json.loads(row["body"])
        dataset = c.execute(
            "SELECT name FROM datasets WHERE id = ?", (row["dataset_id"],)
        ).fetchone()
        links = c.execute(
            "SELECT v.id, v.commit_hash, v.prompt_id, p.name FROM experiment_prompt_versions e"
            " JOIN prompt_versions v ON v.id = e.prompt_version_id"
            " JOIN prompts p ON p.id = v.prompt_id WHERE e.experiment_id = ? ORDER BY v.id",
            (row["id"],),
        ).fetchall()
        traces = [
            r[0]
            for r in c.execute(
                "SELECT DISTINCT trace_id FROM experiment_items WHERE experiment_id = ?",
                (row["id"],),
            )
        ]
        items = c.execute(
            "SELECT COUNT(DISTINCT dataset_item_id) FROM experiment_items WHERE experiment_id = ?",
            (row["id"],),
        ).fetchone()[0]
        return compact(
            {
                "id": row["id"],
                "name": row["name"],
                "dataset_name": dataset["name"] if dataset else None,
                "dataset_id": row["dataset_id"],
                "project_id": row["project_id"],
                "metadata": stored.get("metadata"),
                "tags": stored.get("tags"),
                "type": stored.get("type") or "regular",
                "evaluation_method": stored.get("evaluation_method"),
                "optimization_id": stored.get("optimization_id"),
                "status": stored.get("status") or "running",
                "feedback_scores": self._average_scores(c, row["workspace"], traces),
                "experiment_scores": stored.get("experiment_scores"),
                "trace_count": len(traces),
                "dataset_item_count": items,
                "created_at": row["created_at"],
                "last_updated_at": row["last_updated_at"],
                "created_by": USER,
                "last_updated_by": USER,
                "prompt_versions": [
                    {
                        "prompt_version_id": link[0],
                        "commit": link[1],
                        "prompt_id": link[2],
                        "prompt_name": link[3],
                    }
                    for link in links
                ],
            }
        )

    @staticmethod
    def _average_scores(
        c: sqlite3.Connection, ws: str, trace_ids: Iterable[str]
    ) -> list[dict[str, Any]]:
        """The backend's ``feedback_scores``: per trace and name, the mean over authors; then
        per name, the mean over the experiment's traces that have it; rounded to 9 places
        (ClickHouse ``Decimal64(9)``)."""
        per_name: dict[str, list[float]] = {}
        for trace_id in trace_ids:
            for name, mean in c.execute(
                "SELECT name, AVG(value) FROM feedback_scores WHERE workspace = ?"
                " AND entity_type = 'trace' AND entity_id = ? GROUP BY name",
                (ws, trace_id),
            ):
                per_name.setdefault(name, []).append(mean)
        return [
            {"name": name, "value": round(sum(values) / len(values), 9)}
            for name, values in sorted(per_name.items())
        ]

    def get_experiment(self, ws: str, experiment_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            row = c.execute(
                "SELECT * FROM experiments WHERE workspace = ? AND id = ?", (ws, experiment_id)
            ).fetchone()
            if row is None:
                raise not_found("Experiment not found")
            return self._experiment_dict(c, row)

    def list_experiments(
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
        version of that prompt."""
        check_paging(page, size)
        sql = "SELECT * FROM experiments e WHERE workspace = ?"
        args: list[Any] = [ws]
        if prompt_id is not None:
            sql += (
                " AND EXISTS (SELECT 1 FROM experiment_prompt_versions l"
                " JOIN prompt_versions v ON v.id = l.prompt_version_id"
                " WHERE l.experiment_id = e.id AND v.prompt_id = ?)"
            )
            args.append(prompt_id)
        for column, value in (("dataset_id", dataset_id), ("project_id", project_id)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        with self.db.read() as c:
            rows = c.execute(sql + " ORDER BY id DESC", args).fetchall()
            experiments = [self._experiment_dict(c, r) for r in rows]
        if name:
            experiments = [e for e in experiments if name.lower() in e["name"].lower()]
        if optimization_id:
            experiments = [e for e in experiments if e.get("optimization_id") == optimization_id]
        return page_of(experiments, page, size, EXPERIMENT_SORTABLE)
