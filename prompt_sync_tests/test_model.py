"""The stateful model of the sync (``model.py``), bounded for CI: a fixed number of examples and
steps, derandomized so a failure reproduces. ``benchmarks/model_check.py`` runs it longer."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from prompt_sync_tests.model import Figures, World, model_for

CI_SETTINGS = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_the_contract_holds_under_random_edits_faults_resolutions_and_kills(
    opik_target, opik_client
):
    control = opik_target.require_emulator()
    figures = Figures()
    world = World(opik_target.url, opik_target.workspace, control, opik_client)

    run_state_machine_as_test(model_for(world, figures), settings=CI_SETTINGS)

    # The run did what it says: every kind of step and every promise was exercised.
    assert figures.checks["no remote version buried"] > 0, figures
    assert figures.runs["killed"] > 0 and figures.runs["clean"] > 0, figures
    assert {"opik: restore", "opik: type switch", "charter: text"} <= set(figures.steps)
