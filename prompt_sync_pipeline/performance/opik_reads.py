"""The Opik reads the performance view needs beyond the sync's own, through the sync's gateway.

They go through ``OpikGateway._call`` so they get the same bounded retries, request counting and
``OpikError`` (with the server's message) as every other Opik call of this project.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..sync.opik_gateway import OpikGateway

if TYPE_CHECKING:
    from opik.rest_api.types import ExperimentPublic

EXPERIMENTS_PAGE_SIZE = 100


def experiments_for_prompt(gateway: OpikGateway, prompt_id: str) -> Iterator[ExperimentPublic]:
    """Every experiment linked to any version of the prompt, one page of 100 at a time.

    Opik lists newest first, so an experiment created while we page shifts the rest down by one
    and the same experiment can show up on two pages: each is yielded once.
    """
    seen: set[str | None] = set()
    page = 1
    while True:
        result = gateway._call(
            "read",
            gateway._rest.experiments.find_experiments,
            prompt_id=prompt_id,
            page=page,
            size=EXPERIMENTS_PAGE_SIZE,
        )
        content = result.content or []
        for experiment in content:
            if experiment.id not in seen:
                seen.add(experiment.id)
                yield experiment
        if len(content) < EXPERIMENTS_PAGE_SIZE:
            return
        page += 1
