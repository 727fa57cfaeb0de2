"""Datasets and their items: what ``get_or_create_dataset``, ``insert`` and ``get_items``
need, and the rows the experiment views join to.

Dataset versioning is not emulated: a dataset is its current items.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator

from opik_emulator.db import Database
from opik_emulator.errors import conflict, not_found, unprocessable
from opik_emulator.ids import now_iso, uuid7
from opik_emulator.paging import check_paging, offset, page_of, paged
from opik_emulator.projects import Projects, ProjectScoped
from opik_emulator.rows import USER, compact, dumps_or_none, loads_or_none, placeholders
from opik_emulator.validation import (
    MAX_BATCH,
    MISSING,
    Body,
    NotBlank,
    Required,
    batch_of,
    parse,
    uuid_id,
    violation,
)

DATASET_SORTABLE = ("id", "name", "created_at", "last_updated_at")


class DatasetWrite(ProjectScoped):
    id: Annotated[str | None, uuid_id("dataset")] = None
    name: NotBlank = MISSING
    description: str | None = None
    type: str | None = None
    tags: list[str] | None = None


class DatasetName(Body):
    dataset_name: NotBlank = MISSING


class DatasetToDelete(Body):
    dataset_name: str | None = None  # an unknown or missing name is a 404


def _have_data(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not all(isinstance(i.get("data"), dict) for i in items):
        raise violation("must each have an object as data")
    return items


class ItemsWrite(Body):
    """``PUT /datasets/items``: the dataset by id, or by name (created when new)."""

    dataset_id: str | None = None
    dataset_name: str | None = None
    project_name: str | None = None
    items: Annotated[
        list[dict[str, Any]], Required, batch_of(MAX_BATCH), AfterValidator(_have_data)
    ] = MISSING


class ItemIds(Body):
    item_ids: list[str] | None = None


class ItemsStream(Body):
    """``POST /datasets/items/stream``: pages of ids below ``last_retrieved_id``."""

    dataset_name: str | None = None
    last_retrieved_id: str | None = None
    steam_limit: int | None = None  # sic: the backend's field name


def item_dict(row: sqlite3.Row) -> dict[str, Any]:
    """``DatasetItem``: what the client stored, with the backend's timestamps and authors."""
    return {
        "source": "sdk",
        **json.loads(row["body"]),
        "created_at": row["created_at"],
        "last_updated_at": row["last_updated_at"],
        "created_by": USER,
        "last_updated_by": USER,
    }


class Datasets:
    def __init__(self, db: Database, projects: Projects) -> None:
        self.db = db
        self.projects = projects

    @staticmethod
    def named(c: sqlite3.Connection, ws: str, name: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM datasets WHERE workspace = ? AND name = ?", (ws, name)
        ).fetchone()

    @staticmethod
    def row(c: sqlite3.Connection, ws: str, dataset_id: str) -> sqlite3.Row | None:
        return c.execute(
            "SELECT * FROM datasets WHERE workspace = ? AND id = ?", (ws, dataset_id)
        ).fetchone()

    def insert(self, c: sqlite3.Connection, ws: str, request: DatasetWrite) -> str:
        """A new dataset; 409 when the name is taken. The caller holds the transaction."""
        if self.named(c, ws, request.name) is not None:
            raise conflict("Dataset already exists")
        project_id = self.projects.for_write(c, ws, request)
        dataset_id, now = request.id or uuid7(), now_iso()
        c.execute(
            "INSERT INTO datasets (id, workspace, project_id, name, description, type, tags,"
            " created_at, created_by, last_updated_at, last_updated_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (dataset_id, ws, project_id, request.name, request.description,
             request.type or "dataset", dumps_or_none(request.tags), now, USER, now, USER),
        )  # fmt: skip
        return dataset_id

    @staticmethod
    def as_dicts(c: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> list[dict[str, Any]]:
        """``Dataset_Public`` per row, with the item and experiment counts of all the rows
        from one query each."""
        ids = [r["id"] for r in rows]
        items = dict(
            c.execute(
                "SELECT dataset_id, COUNT(*) FROM dataset_items"
                f" WHERE dataset_id IN ({placeholders(ids)}) GROUP BY dataset_id",
                ids,
            ).fetchall()
        )
        experiments = dict(
            c.execute(
                "SELECT dataset_id, COUNT(*) FROM experiments"
                f" WHERE dataset_id IN ({placeholders(ids)}) GROUP BY dataset_id",
                ids,
            ).fetchall()
        )
        return [
            compact(
                {
                    "id": r["id"],
                    "name": r["name"],
                    "project_id": r["project_id"],
                    "type": r["type"],
                    "visibility": "private",
                    "tags": loads_or_none(r["tags"]),
                    "description": r["description"],
                    "created_at": r["created_at"],
                    "created_by": r["created_by"],
                    "last_updated_at": r["last_updated_at"],
                    "last_updated_by": r["last_updated_by"],
                    "experiment_count": experiments.get(r["id"], 0),
                    "dataset_items_count": items.get(r["id"], 0),
                    "status": "completed",
                }
            )
            for r in rows
        ]

    # -- endpoints ---------------------------------------------------------------------------

    def create(self, ws: str, body: Mapping[str, Any]) -> str:
        request = parse(DatasetWrite, body)
        with self.db.write() as c:
            return self.insert(c, ws, request)

    def retrieve(self, ws: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name = parse(DatasetName, body).dataset_name
        with self.db.read() as c:
            row = self.named(c, ws, name)
            if row is None:
                raise not_found("Dataset not found")
            return self.as_dicts(c, [row])[0]

    def get(self, ws: str, dataset_id: str) -> dict[str, Any]:
        with self.db.read() as c:
            row = self.row(c, ws, dataset_id)
            if row is None:
                raise not_found("Dataset not found")
            return self.as_dicts(c, [row])[0]

    def listing(self, ws: str, page: int, size: int, name: str | None) -> dict[str, Any]:
        """Newest first; ``name`` is a case-insensitive substring."""
        check_paging(page, size)
        where = "WHERE workspace = ? AND instr(lower(name), lower(?)) > 0"
        with self.db.read() as c:
            total = c.execute(
                f"SELECT COUNT(*) FROM datasets {where}", (ws, name or "")
            ).fetchone()[0]
            rows = c.execute(
                f"SELECT * FROM datasets {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                (ws, name or "", size, offset(page, size)),
            ).fetchall()
            return paged(self.as_dicts(c, rows), page, total, DATASET_SORTABLE)

    def delete_by_name(self, ws: str, body: Mapping[str, Any]) -> None:
        name = parse(DatasetToDelete, body).dataset_name
        with self.db.write() as c:
            row = None if name is None else self.named(c, ws, name)
            if row is None:
                raise not_found("Dataset not found")
            c.execute("DELETE FROM datasets WHERE id = ?", (row["id"],))

    def upsert_items(self, ws: str, body: Mapping[str, Any]) -> None:
        """Insert or replace items by id. A dataset named in the batch is created if new."""
        request = parse(ItemsWrite, body)
        with self.db.write() as c:
            if request.dataset_id is not None:
                dataset = self.row(c, ws, request.dataset_id)
            elif request.dataset_name is not None:
                dataset = self.named(c, ws, request.dataset_name)
                if dataset is None:
                    new = DatasetWrite(name=request.dataset_name, project_name=request.project_name)
                    dataset = self.row(c, ws, self.insert(c, ws, new))
            else:
                raise unprocessable("dataset_name or dataset_id must be provided")
            if dataset is None:
                raise not_found("Dataset not found")
            now = now_iso()
            stored = []
            for item in request.items:
                item_id = item.get("id") or uuid7()
                body_json = json.dumps(
                    compact({**item, "id": item_id, "dataset_id": dataset["id"]})
                )
                stored.append((item_id, ws, dataset["id"], body_json, now, now))
            c.executemany(
                "INSERT INTO dataset_items (id, workspace, dataset_id, body, created_at,"
                " last_updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE"
                " SET body = excluded.body, last_updated_at = excluded.last_updated_at",
                stored,
            )

    def delete_items(self, ws: str, body: Mapping[str, Any]) -> None:
        ids = parse(ItemIds, body).item_ids
        if ids is None:
            raise unprocessable("item_ids must not be null")
        with self.db.write() as c:
            c.executemany(
                "DELETE FROM dataset_items WHERE workspace = ? AND id = ?", [(ws, i) for i in ids]
            )

    def list_items(self, ws: str, dataset_id: str, page: int, size: int) -> dict[str, Any]:
        """``GET /datasets/{id}/items``, newest first."""
        check_paging(page, size)
        with self.db.read() as c:
            rows = c.execute(
                "SELECT * FROM dataset_items WHERE workspace = ? AND dataset_id = ?"
                " ORDER BY id DESC",
                (ws, dataset_id),
            ).fetchall()
        return page_of([item_dict(r) for r in rows], page, size, ())

    def stream_items(self, ws: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A page of ``POST /datasets/items/stream``: ids below ``last_retrieved_id``, newest
        first, at most ``steam_limit`` (default 500) of them."""
        request = parse(ItemsStream, body)
        with self.db.read() as c:
            dataset = self.named(c, ws, request.dataset_name or "")
            if dataset is None:
                raise not_found("Dataset not found")
            rows = c.execute(
                "SELECT * FROM dataset_items WHERE dataset_id = :dataset"
                " AND (:last IS NULL OR id < :last) ORDER BY id DESC LIMIT :limit",
                {
                    "dataset": dataset["id"],
                    "last": request.last_retrieved_id or None,
                    "limit": request.steam_limit or 500,
                },
            ).fetchall()
        return [item_dict(r) for r in rows]
