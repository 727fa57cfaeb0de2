"""``forseti_opik_prompt_changes``: one listing per tick, one run per new composite version.

Evaluated with ``build_sensor_context`` on a real Dagster instance against the emulator; the
run it requests is then executed in that instance like the daemon would launch it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from prompt_sync_pipeline.opik import RemotePrompt
from prompt_sync_pipeline.sync.state import CompositeBase, PartBase, SyncState
from prompt_sync_pipeline.sync.watch import read_cursor, run_key, unseen_versions, write_cursor
from prompt_sync_tests.dagster_helpers import (
    PULL_JOB,
    SENSOR,
    SYNC_JOB,
    code_location,
    key,
    launch,
    settled,
    tick,
)
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, COMPOSITES, Forseti, optimize

OPTIMIZED = "Judge {{post}} against {{charter}}, quoting the rule it breaks."
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def watched(synced: Forseti, monkeypatch) -> Forseti:
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(synced.config_path))
    return synced


def test_no_change_skips_and_says_what_it_checked(watched, opik_target):
    with dg.instance_for_test() as instance:
        cursor = settled(instance)
        opik_target.clear_requests()

        result = tick(instance, cursor)

        assert result.run_requests == []
        reason = result.skip_message
        assert f"No new composite version in Opik project {opik_target.project_name}" in reason
        assert "one listing, 3 managed composites" in reason
        assert all(f"{name}@v1" in reason for name in COMPOSITES)
        # The cheap check: the project and one page of its prompts, no version read.
        paths = [r.path for r in opik_target.requests()]
        assert not any("/prompts/versions" in path for path in paths)
        assert len(paths) == 2


def test_a_new_version_requests_exactly_one_run_and_the_same_version_none(
    watched, opik_client, opik_target
):
    with dg.instance_for_test() as instance:
        cursor = settled(instance)
        optimize(opik_client, watched, user=OPTIMIZED)

        first = tick(instance, cursor)

        (request,) = first.run_requests
        assert request.run_key == f"{COMPOSITE}@v2"
        assert request.job_name == PULL_JOB
        assert request.tags["prompt_sync/trigger"] == "sensor"
        assert read_cursor(first.cursor)[COMPOSITE][1] == 2

        again = tick(instance, first.cursor)
        assert again.run_requests == []
        assert f"{COMPOSITE}@v2" in again.skip_message

        # A tick that can't read Opik fails, visibly, and hands back no cursor to store.
        opik_target.inject(r"/v1/private/prompts$", "GET", status=400, times=None)
        with pytest.raises(Exception, match="Opik answered 400"):
            tick(instance, cursor)


def test_the_requested_run_pulls_the_new_version_into_the_charter(watched, opik_client):
    with dg.instance_for_test() as instance:
        cursor = settled(instance)
        optimize(opik_client, watched, user=OPTIMIZED)
        (request,) = tick(instance, cursor).run_requests

        run = launch(instance, request)

        assert run.success
        assert watched.template(CHARTER_TASK) == OPTIMIZED
        assert {e.asset_key for e in run.get_asset_materialization_events()} == {
            key("opik_composites"),
            key("local_individual_prompts"),
        }


def test_run_pushes_requests_the_whole_sync(watched, opik_client):
    watched.configure(sensor={"interval_seconds": 60, "run_pushes": True})
    with dg.instance_for_test() as instance:
        cursor = settled(instance)
        optimize(opik_client, watched, user=OPTIMIZED)

        (request,) = tick(instance, cursor).run_requests

        assert request.job_name == SYNC_JOB


def test_the_sensor_is_off_by_default_and_targets_the_sync_and_promote_jobs():
    defs = code_location()
    sensor = defs.resolve_sensor_def(SENSOR)

    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert sensor.minimum_interval_seconds == 300
    assert {job.name for job in sensor.jobs} == {
        PULL_JOB,
        SYNC_JOB,
        "forseti_prompt_promote_job",  # the auto gate's (promotion.auto)
    }
    pull = defs.resolve_job_def(PULL_JOB)
    assert set(pull.asset_layer.executable_asset_keys) == {
        key("opik_composites"),
        key("local_individual_prompts"),
    }


def test_the_interval_comes_from_the_configuration(tmp_path: Path):
    config = yaml.safe_load((REPO / "examples/forseti/prompt_sync.yaml").read_text())
    config["charter"] = str(REPO / "examples/forseti/forseti_charter.json")
    config["sensor"] = {"interval_seconds": 120}
    path = tmp_path / "prompt_sync.yaml"
    path.write_text(yaml.safe_dump(config))
    code = (
        "import sys; from prompt_sync_pipeline.definitions import defs; "
        f"print(defs().resolve_sensor_def({SENSOR!r}).minimum_interval_seconds, "
        "'opik' in sys.modules)"
    )
    env = {**os.environ, "PROMPT_SYNC_CONFIG": str(path)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["120", "False"]


# The cheap check's logic --------------------------------------------------------------------


def _listed(name: str, count: int, prompt_id: str = "p") -> RemotePrompt:
    return RemotePrompt(f"{prompt_id}-{name}", name, "chat", count)


def _state(**counts: int) -> SyncState:
    part = PartBase(prompt="x", sha256="0")
    return SyncState(
        workspace="ws",
        project="proj",
        composites={
            name: CompositeBase(
                prompt_id=f"p-{name}",
                version_count=count,
                version_id="v",
                commit="c",
                template_type="mustache",
                parts={"system": part, "user": part},
            )
            for name, count in counts.items()
        },
    )


def test_unseen_means_neither_the_state_nor_an_earlier_request_saw_it():
    listing = {"a": _listed("a", 3), "b": _listed("b", 1), "c": _listed("c", 2)}
    names = ["a", "b", "c", "d"]  # d is not in Opik

    assert set(unseen_versions(listing, names, None, {})) == {"a", "b", "c"}
    state = _state(a=2, b=1)  # a moved on since the state, c was never synced
    assert set(unseen_versions(listing, names, state, {})) == {"a", "c"}
    requested = {"a": ("p-a", 3)}
    unseen = unseen_versions(listing, names, state, requested)
    assert set(unseen) == {"c"}
    # A prompt deleted and created again (new id) is new whatever its count.
    listing["b"] = _listed("b", 1, prompt_id="q")
    assert set(unseen_versions(listing, names, state, requested)) == {"b", "c"}
    assert run_key({"c": listing["c"], "b": listing["b"]}) == "b@v1+c@v2"


def test_the_cursor_round_trips_and_a_broken_one_is_empty():
    seen = {"a": ("p-a", 3)}
    assert read_cursor(write_cursor(seen)) == seen
    assert read_cursor("not json") == {} and read_cursor(None) == {}


def test_a_configuration_gone_after_load_fails_the_tick_with_the_cli_message(watched, opik_target):
    defs = code_location()  # loaded while the file was there
    watched.config_path.unlink()

    with (
        dg.instance_for_test() as instance,
        dg.build_sensor_context(instance=instance, resources=defs.resources) as context,
        pytest.raises(Exception) as raised,
    ):
        defs.resolve_sensor_def(SENSOR).evaluate_tick(context)

    # Dagster wraps the step's failure; the tick's error shows the whole chain.
    chain, error = [], raised.value
    while error is not None:
        chain.append(str(error))
        error = error.__cause__
    assert any(f"{watched.config_path}: configuration file not found" in m for m in chain)
