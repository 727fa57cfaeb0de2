"""The --keep-* choices as the engine receives them (pure logic: no Opik, no files written)."""

from __future__ import annotations

import pytest

from prompt_sync_pipeline.sync.config import load_config
from prompt_sync_pipeline.sync.resolutions import ResolutionError, parse
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, EXAMPLE, PERSONA

CATEGORY = "forseti-persona-category"


@pytest.fixture(scope="module")
def config():
    return load_config(EXAMPLE / "prompt_sync.yaml")


def test_a_composite_stands_for_each_of_its_parts(config):
    keep = parse(config, opik=[COMPOSITE])

    # The composite itself (a write race on it) and each of its parts.
    assert keep.for_composite(COMPOSITE) == "opik"
    assert keep.winner(PERSONA) == COMPOSITE and keep.winner(CHARTER_TASK) == COMPOSITE
    only_persona = parse(config, opik=[PERSONA])
    assert only_persona.winner(PERSONA) is None and only_persona.for_prompt(PERSONA) == "opik"


@pytest.mark.parametrize(
    ("charter", "opik", "message"),
    [
        ([PERSONA], [PERSONA], "given to both"),
        ([PERSONA], [f"{PERSONA}={CATEGORY}"], "given to both"),
        ([COMPOSITE], [COMPOSITE], "given to both"),
        ([], [f"{PERSONA}={COMPOSITE}", f"{PERSONA}={CATEGORY}"], "only one composite's version"),
        ([], [COMPOSITE, f"{PERSONA}={CATEGORY}"], "only one composite's version"),
        ([], ["nobody=x"], "no such prompt or composite"),
    ],
)
def test_contradictory_or_unknown_choices_are_refused(config, charter, opik, message):
    with pytest.raises(ResolutionError, match=message):
        parse(config, charter=charter, opik=opik)
