"""The evaluation side's state: one facade over datasets, tracing, experiments and experiment
items, on the prompt :class:`~opik_emulator.store.Store`'s database.

Enough of Opik's evaluation API for ``create_experiment(prompts=...)``, ``evaluate()``, dataset
inserts, traces, feedback scores and the per-item reads to work through the SDK, and for
``GET /experiments?prompt_id=`` to report per-prompt performance as the backend computes it.
"""

from __future__ import annotations

from typing import Any

from opik_emulator.datasets import Datasets
from opik_emulator.experiment_items import ExperimentItems
from opik_emulator.experiments import Experiments
from opik_emulator.store import Store
from opik_emulator.tracing import Tracing

Body = dict[str, Any]


class ExperimentStore:
    """Reachable parts: ``datasets``, ``tracing``, ``experiments``, ``items``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        self.datasets = Datasets(self.db, store.projects)
        self.tracing = Tracing(self.db, store.projects)
        self.experiments = Experiments(self.db, store.projects, self.datasets)
        self.items = ExperimentItems(self.db, store.projects, self.tracing)

    # -- datasets ------------------------------------------------------------------------------

    def create_dataset(self, ws: str, body: Body) -> str:
        return self.datasets.create(ws, body)

    def retrieve_dataset(self, ws: str, name: Any) -> Body:
        return self.datasets.retrieve(ws, {"dataset_name": name})

    def get_dataset(self, ws: str, dataset_id: str) -> Body:
        return self.datasets.get(ws, dataset_id)

    def list_datasets(self, ws: str, page: int, size: int, name: str | None) -> Body:
        return self.datasets.listing(ws, page, size, name)

    def delete_dataset_by_name(self, ws: str, name: Any) -> None:
        self.datasets.delete_by_name(ws, {"dataset_name": name})

    def upsert_items(self, ws: str, body: Body) -> None:
        self.datasets.upsert_items(ws, body)

    def delete_items(self, ws: str, ids: Any) -> None:
        self.datasets.delete_items(ws, {"item_ids": ids})

    def list_items(self, ws: str, dataset_id: str, page: int, size: int) -> Body:
        return self.datasets.list_items(ws, dataset_id, page, size)

    def stream_items(self, ws: str, body: Body) -> list[Body]:
        return self.datasets.stream_items(ws, body)

    # -- traces, spans and feedback scores ----------------------------------------------------

    def upsert_traces(self, ws: str, entity: str, items: Any) -> None:
        """``entity`` is ``trace`` or ``span``; ``items`` the batch's list."""
        self.tracing.upsert(ws, entity, {f"{entity}s": items})

    def update_trace(self, ws: str, entity: str, item_id: str, body: Body) -> None:
        self.tracing.update(ws, entity, item_id, body)

    def get_trace(self, ws: str, trace_id: str) -> Body:
        return self.tracing.get_trace(ws, trace_id)

    def score(self, ws: str, kind: str, scores: Any) -> None:
        self.tracing.score(ws, kind, {"scores": scores})

    # -- experiments ---------------------------------------------------------------------------

    def create_experiment(self, ws: str, body: Body) -> str:
        return self.experiments.create(ws, body)

    def update_experiment(self, ws: str, experiment_id: str, body: Body) -> None:
        self.experiments.update(ws, experiment_id, body)

    def get_experiment(self, ws: str, experiment_id: str) -> Body:
        return self.experiments.get(ws, experiment_id)

    def list_experiments(self, ws: str, **query: Any) -> Body:
        """``page``, ``size``, ``prompt_id``, ``dataset_id``, ``project_id``, ``name``,
        ``optimization_id``."""
        return self.experiments.listing(ws, **query)

    def stream_experiments(self, ws: str, body: Body) -> list[Body]:
        return self.experiments.stream(ws, body)

    def add_items(self, ws: str, items: Any) -> None:
        self.experiments.add_items(ws, {"experiment_items": items})

    def stream_experiment_items(self, ws: str, body: Body) -> list[Body]:
        return self.items.stream(ws, body)

    def compare_items(self, ws: str, dataset_id: str, **query: Any) -> Body:
        """``page``, ``size``, ``experiment_ids``, ``filters``, ``sorting``, ``search``."""
        return self.items.compare(ws, dataset_id, **query)
