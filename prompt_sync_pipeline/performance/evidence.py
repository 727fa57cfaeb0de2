"""Per-item scores of prompt versions, read from Opik, and the paired comparison of two versions.

A version's per-item scores come from the items of its experiments (the SDK's
``Experiment.get_items()``), on the datasets both versions were evaluated on: an item run several
times (several experiments, or repeated trials) is averaged first. Experiments are read side by
side on a pool bounded by ``opik.max_concurrency``, each once however many comparisons use it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from ..opik import ExperimentItem
from ..opik.project import OpikProject
from .models import ExperimentRun, PairedRow, PromptPerformance, VersionPerformance
from .paired import ItemKey, PairedComparison, item_means, paired_comparison


def scored_datasets(version: VersionPerformance, metric: str) -> set[str]:
    """The datasets of the version's experiments that report ``metric``."""
    return {e.dataset for e in version.experiments if e.dataset and metric in e.scores}


class ItemReader:
    """Reads experiments' items, each experiment once (a cache shared by the comparisons of one
    report); thread-safe."""

    def __init__(self, opik: OpikProject, workers: int = 1) -> None:
        self.opik = opik
        self.workers = max(1, workers)
        self._items: dict[str, list[ExperimentItem]] = {}
        self._lock = threading.Lock()

    def read(self, experiments: Iterable[ExperimentRun]) -> None:
        """Read the items of the experiments not read yet, side by side."""
        with self._lock:
            todo = {e.id: e for e in experiments if e.id not in self._items}
        if not todo:
            return
        workers = min(self.workers, len(todo))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prompt-items") as pool:
            found = list(pool.map(self._read_one, todo.values()))
        with self._lock:
            self._items.update(zip(todo, found, strict=True))

    def _read_one(self, experiment: ExperimentRun) -> list[ExperimentItem]:
        return self.opik.experiments.items(
            experiment.id,
            name=experiment.name,
            dataset_name=experiment.dataset,
            project_name=experiment.project_name,
        )

    def item_scores(
        self, version: VersionPerformance, metric: str, datasets: set[str]
    ) -> dict[ItemKey, float]:
        """The version's per-item means on ``metric`` over ``datasets``."""
        experiments = [
            e for e in version.experiments if e.dataset in datasets and metric in e.scores
        ]
        self.read(experiments)
        runs = [
            ((experiment.dataset or "", item.dataset_item_id), item.scores[metric])
            for experiment in experiments
            for item in self._items[experiment.id]
            if metric in item.scores
        ]
        return item_means(runs)

    def compare(
        self,
        candidate: VersionPerformance,
        current: VersionPerformance,
        metric: str,
        *,
        level: float,
    ) -> PairedComparison:
        """``candidate`` against ``current`` item by item, on the datasets both were scored on."""
        datasets = scored_datasets(candidate, metric) & scored_datasets(current, metric)
        self.read(
            e
            for version in (candidate, current)
            for e in version.experiments
            if e.dataset in datasets and metric in e.scores
        )
        return paired_comparison(
            self.item_scores(candidate, metric, datasets),
            self.item_scores(current, metric, datasets),
            metric=metric,
            level=level,
        )


def shared_metrics(candidate: VersionPerformance, other: VersionPerformance) -> list[str]:
    """The metrics both versions were scored on over at least one common dataset."""
    metrics = {m for e in candidate.experiments for m in e.scores}
    return sorted(m for m in metrics if scored_datasets(candidate, m) & scored_datasets(other, m))


def with_paired_rows(
    reader: ItemReader, prompt: PromptPerformance, environment: str | None, level: float
) -> PromptPerformance:
    """A composite with its current version paired against the previous one and against the
    version ``environment`` points to (each metric both were scored on); others as they are."""
    current = prompt.current
    if prompt.kind != "composite" or prompt.status != "ok" or current is None:
        return prompt
    others: list[tuple[str, VersionPerformance | None]] = [("previous", prompt.previous)]
    if environment:
        others.append((environment, prompt.held_by(environment)))
    rows = []
    for against, other in others:
        comparisons = {}
        if other is not None and other.id != current.id:
            for metric in shared_metrics(current, other):
                comparisons[metric] = reader.compare(current, other, metric, level=level)
        rows.append(
            PairedRow(against, current.version, other.version if other else None, comparisons)
        )
    return replace(prompt, paired=tuple(rows))
