"""Opik's experiments, as the performance view and promotion read them: the experiments that
used a prompt's versions, the workspace's newest experiments (the sensor's one listing), and an
experiment's per-item scores (the SDK's ``Experiment.get_items()``)."""

from __future__ import annotations

from collections.abc import Iterator

from .models import Experiment, ExperimentItem
from .transport import PAGE_SIZE, Transport


class Experiments:
    """The workspace's experiments: by the prompt they used, the newest, and their items."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def for_prompt(self, prompt_id: str) -> Iterator[Experiment]:
        """Every experiment linked to any version of the prompt, newest first, 100 per page."""
        rest = self._transport.rest
        for row in self._transport.pages(rest.experiments.find_experiments, prompt_id=prompt_id):
            yield Experiment.from_rest(row)

    def newest(self) -> list[Experiment]:
        """The first page (100) of the workspace's experiments, newest first: one request."""
        rest = self._transport.rest
        result = self._transport.call(
            "read", rest.experiments.find_experiments, page=1, size=PAGE_SIZE
        )
        return [Experiment.from_rest(row) for row in result.content or []]

    def items(
        self, experiment_id: str, *, name: str, dataset_name: str | None, project_name: str | None
    ) -> list[ExperimentItem]:
        """Every item of the experiment with its scores, through the SDK's
        ``Experiment.get_items()`` (a lookup of the dataset, then its compare view's pages).
        An experiment without a dataset has no items to read."""
        from . import sdk

        if not dataset_name:
            return []
        rows = self._transport.call(
            "read",
            sdk.experiment_items,
            self._transport.rest,
            experiment_id,
            name=name,
            dataset_name=dataset_name,
            project_name=project_name,
        )
        return [ExperimentItem.from_sdk(experiment_id, row) for row in rows]
