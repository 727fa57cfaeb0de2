"""Opik's experiments, as the performance view and promotion read them."""

from __future__ import annotations

from collections.abc import Iterator

from .models import Experiment
from .transport import Transport


class Experiments:
    """The experiments of the workspace that used a given prompt's versions."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def for_prompt(self, prompt_id: str) -> Iterator[Experiment]:
        """Every experiment linked to any version of the prompt, newest first, 100 per page."""
        rest = self._transport.rest
        for row in self._transport.pages(rest.experiments.find_experiments, prompt_id=prompt_id):
            yield Experiment.from_rest(row)
