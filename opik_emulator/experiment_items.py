"""Per-item experiment results: each experiment item with what its trace recorded (input,
output, feedback scores). Two reads serve them, as in the backend:

- ``POST /experiments/items/stream``: the items of the experiments whose name contains the
  given one (case-insensitive, as the backend's ``ExperimentDAO.FIND_BY_NAME``), newest first,
  one JSON object per line; the client pages with ``last_retrieved_id`` (the last id it
  received) and ``limit`` (default 500, at most 2000).
- ``GET /datasets/{id}/items/experiments/items?experiment_ids=[...]`` (the compare view, which
  ``Experiment.get_items()`` reads): the dataset's items that the experiments evaluated, newest
  first, each with the items of every asked experiment, so two experiments pair by dataset item.

The compare view filters on ``feedback_scores.<name>`` and ``output`` (what
``find_experiment_items_for_dataset(filter_string=...)`` sends); other filter fields, ``sorting``
and ``search`` are refused (400) rather than ignored. ``truncate`` only shortens images, which
the emulator never stores, so it is accepted and changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from opik_emulator import filters as flt
from opik_emulator.datasets import item_dict
from opik_emulator.db import Database
from opik_emulator.errors import OpikError, bad_request
from opik_emulator.ids import is_uuid
from opik_emulator.paging import check_paging, offset, paged
from opik_emulator.projects import Projects
from opik_emulator.rows import USER, compact, placeholders
from opik_emulator.tracing import Tracing
from opik_emulator.validation import MISSING, Body, NotBlank, NullOrNotBlank, StreamLimit, parse

COMPARE_SORTABLE: tuple[str, ...] = ()
# The compare view's filters the emulator answers (the backend knows more: data columns,
# duration, cost, ...; those are refused with 400 as unknown).
COMPARE_FILTER_FIELDS = {"feedback_scores": flt.KEYED_NUMBER, "output": flt.STRING}
# The dataset items the asked experiments (``marks``: one placeholder each) evaluated.
_EVALUATED = (
    "FROM dataset_items d WHERE d.workspace = ? AND d.dataset_id = ? AND d.id IN"
    " (SELECT dataset_item_id FROM experiment_items WHERE experiment_id IN ({marks}))"
)


def _filterable(item: Mapping[str, Any]) -> dict[str, Any]:
    """What the filters see of an experiment item: scores by name, the output as text."""
    output = item.get("output")
    return {
        "feedback_scores": {s["name"]: s["value"] for s in item.get("feedback_scores") or []},
        "output": output if isinstance(output, str) or output is None else json.dumps(output),
    }


class ItemsStreamRequest(Body):
    """``ExperimentItemStreamRequest``."""

    experiment_name: NotBlank = MISSING
    limit: StreamLimit = None
    last_retrieved_id: uuid.UUID | None = None  # Jackson reads a UUID: 400 otherwise
    truncate: bool | None = None
    project_name: NullOrNotBlank = None


def _experiment_ids(raw: str | None) -> list[str]:
    """The ``experiment_ids`` query parameter, a JSON array of UUIDs (``ParamsValidator``)."""
    if raw is None:
        raise bad_request("query param experiment_ids must not be null")
    try:
        ids = json.loads(raw)
    except json.JSONDecodeError:
        ids = None
    if not isinstance(ids, list) or not all(is_uuid(i) for i in ids):
        raise OpikError(400, f"Invalid query param ids '{raw}'", detail=False)
    if not ids:
        raise OpikError(400, "experiment_ids cannot be empty", detail=False)
    return list(dict.fromkeys(str(uuid.UUID(i)) for i in ids))


class ExperimentItems:
    def __init__(self, db: Database, projects: Projects, tracing: Tracing) -> None:
        self.db = db
        self.projects = projects
        self.tracing = tracing

    def stream(self, ws: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One page of the stream (``ExperimentItem`` objects). Experiments are found by a
        part of their name, in ``project_name`` when given; an unknown project streams
        nothing."""
        request = parse(ItemsStreamRequest, body)
        with self.db.read() as c:
            project_id = None
            if request.project_name is not None:
                project = self.projects.named(c, ws, request.project_name)
                if project is None:
                    return []
                project_id = project["id"]
            rows = c.execute(
                "SELECT ei.* FROM experiment_items ei JOIN experiments e"
                " ON e.id = ei.experiment_id WHERE e.workspace = :ws"
                " AND instr(lower(e.name), lower(:name)) > 0"
                " AND (:project_id IS NULL OR e.project_id = :project_id)"
                " AND (:last IS NULL OR ei.id < :last) ORDER BY ei.id DESC LIMIT :limit",
                {
                    "ws": ws,
                    "name": request.experiment_name,
                    "project_id": project_id,
                    "last": None
                    if request.last_retrieved_id is None
                    else str(request.last_retrieved_id),
                    "limit": request.limit or 500,
                },
            ).fetchall()
            return self._as_dicts(c, ws, rows)

    def compare(
        self,
        ws: str,
        dataset_id: str,
        *,
        page: int,
        size: int,
        experiment_ids: str | None,
        filters: str | None = None,
        sorting: str | None = None,
        search: str | None = None,
    ) -> dict[str, Any]:
        """``DatasetItemPage_Compare``: a page of dataset items (``size`` of them, newest
        first), each with ``experiment_items`` from the asked experiments. With ``filters``,
        only the experiment items that match are kept, and the dataset items left with none
        are left out."""
        check_paging(page, size)
        experiments = _experiment_ids(experiment_ids)
        conditions = flt.parse_filters(filters, COMPARE_FILTER_FIELDS)
        if sorting or search:
            raise bad_request("sorting, search: not supported by the Opik emulator")
        evaluated = _EVALUATED.format(marks=placeholders(experiments))
        scope = [ws, dataset_id, *experiments]
        with self.db.read() as c:
            if conditions:  # the experiment items decide which rows remain: count after
                items = c.execute(f"SELECT d.* {evaluated} ORDER BY d.id DESC", scope).fetchall()
            else:
                total = c.execute(f"SELECT COUNT(*) {evaluated}", scope).fetchone()[0]
                items = c.execute(
                    f"SELECT d.* {evaluated} ORDER BY d.id DESC LIMIT ? OFFSET ?",
                    [*scope, size, offset(page, size)],
                ).fetchall()
            by_item = self._items_of(c, ws, experiments, [i["id"] for i in items], conditions)
        if conditions:
            items = [i for i in items if by_item[i["id"]]]
            total = len(items)
            items = items[offset(page, size) : offset(page, size) + size]
        content = [
            {**item_dict(i), "dataset_item_id": i["id"], "experiment_items": by_item[i["id"]]}
            for i in items
        ]
        return paged(content, page, total, COMPARE_SORTABLE)

    def _items_of(
        self,
        c: sqlite3.Connection,
        ws: str,
        experiments: Sequence[str],
        item_ids: Sequence[str],
        conditions: Sequence[flt.Filter],
    ) -> dict[str, list[dict[str, Any]]]:
        """The asked experiments' items of each dataset item that pass ``conditions``."""
        rows = c.execute(
            "SELECT * FROM experiment_items WHERE workspace = ?"
            f" AND experiment_id IN ({placeholders(experiments)})"
            f" AND dataset_item_id IN ({placeholders(item_ids)}) ORDER BY id DESC",
            [ws, *experiments, *item_ids],
        ).fetchall()
        by_item: dict[str, list[dict[str, Any]]] = {i: [] for i in item_ids}
        for entry in self._as_dicts(c, ws, rows):
            if flt.matches(_filterable(entry), conditions):
                by_item[entry["dataset_item_id"]].append(entry)
        return by_item

    def _as_dicts(
        self, c: sqlite3.Connection, ws: str, rows: Sequence[sqlite3.Row]
    ) -> list[dict[str, Any]]:
        """``ExperimentItem`` per row, with its trace's input, output and feedback scores
        (one query for all the traces, one for all their scores)."""
        trace_ids = list({r["trace_id"] for r in rows})
        traces = self.tracing.traces(c, ws, trace_ids)
        scores = self.tracing.scores_by_trace(c, ws, trace_ids)
        result = []
        for row in rows:
            trace = traces.get(row["trace_id"], {})
            result.append(
                compact(
                    {
                        "id": row["id"],
                        "experiment_id": row["experiment_id"],
                        "dataset_item_id": row["dataset_item_id"],
                        "trace_id": row["trace_id"],
                        "project_id": trace.get("project_id"),
                        "input": trace.get("input"),
                        "output": trace.get("output"),
                        "feedback_scores": scores.get(row["trace_id"]),
                        "created_at": row["created_at"],
                        "last_updated_at": row["created_at"],
                        "created_by": USER,
                        "last_updated_by": USER,
                        "trace_visibility_mode": "default",
                    }
                )
            )
        return result
