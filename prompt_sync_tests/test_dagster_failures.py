"""What the Dagster UI shows when Opik fails: never green over work that did not happen.

Asserted as the UI would show it: materialization events, check results and their metadata,
the step's failure message, the run's status and tags.
"""

from __future__ import annotations

import errno
from pathlib import Path

import dagster as dg
import pytest

from opik_emulator import EmulatorServer
from prompt_sync_tests.dagster_helpers import (
    check_results,
    counter_tags,
    materializations,
    run_job,
    run_tags,
    step_failures,
)
from prompt_sync_tests.disk import FailingOs
from prompt_sync_tests.forseti import COMPOSITE, Forseti, make_forseti, optimize

LISTING = r"/prompts$"
RETRIEVE = r"/prompts/versions/retrieve$"


@pytest.fixture
def forseti(tmp_path: Path, opik_target, monkeypatch: pytest.MonkeyPatch) -> Forseti:
    example = make_forseti(tmp_path, opik_target.project_name)
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(example.config_path))
    return example


def assert_nothing_green(result: dg.ExecuteInProcessResult) -> None:
    assert not result.success
    assert materializations(result) == {}
    assert not any(evaluation.passed for evaluation in check_results(result).values())


def test_opik_unreachable_fails_the_first_step_and_shows_nothing_green(
    forseti, instance, monkeypatch
):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://127.0.0.1:9/api")  # nothing listens there

    result = run_job(instance)

    assert_nothing_green(result)
    assert check_results(result) == {}  # never evaluated: not reported
    failures = step_failures(result)
    assert list(failures) == ["opik_composites"]
    # The access check before any work names the cause and what to check, once.
    assert "Opik at http://127.0.0.1:9/api is unreachable" in failures["opik_composites"]
    assert "OPIK_URL_OVERRIDE" in failures["opik_composites"]
    assert counter_tags(run_tags(instance, result.run_id)) == {}
    assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.FAILURE


def test_a_single_asset_run_with_opik_down_fails_before_any_work(forseti, instance, monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://127.0.0.1:9/api")

    result = run_job(instance, assets=["pushed_individuals"])

    assert_nothing_green(result)
    assert "is unreachable" in step_failures(result)["pushed_individuals"]
    # The access check failed before the step synced anything: no counter claims work.
    assert counter_tags(run_tags(instance, result.run_id)) == {}


def test_a_single_asset_run_whose_every_write_fails_counts_only_its_step(
    forseti, opik_target, instance
):
    opik_target.inject(r"/prompts/versions$", "POST", status=503, times=None)

    result = run_job(instance, assets=["pushed_individuals"])

    assert_nothing_green(result)
    assert (
        "Opik could not be synced: all 4 individual prompts failed"
        in step_failures(result)["pushed_individuals"]
    )
    assert counter_tags(run_tags(instance, result.run_id)) == {
        "individual_synced": 0,
        "individual_failed": 4,
    }


def test_a_wrong_api_key_names_the_key_but_never_shows_it(forseti, instance, monkeypatch):
    wrong_key = "wrong-key-0123456789"
    # An Opik that requires its own key (the emulator checks the Authorization header).
    with EmulatorServer(api_key="the-right-key") as opik:
        monkeypatch.setenv("OPIK_URL_OVERRIDE", opik.url)
        monkeypatch.setenv("OPIK_API_KEY", wrong_key)
        result = run_job(instance)

    assert_nothing_green(result)
    failure = step_failures(result)["opik_composites"]
    assert "Opik answered 401" in failure
    assert "Check OPIK_API_KEY and OPIK_WORKSPACE" in failure
    shown = " ".join(f"{e.message} {e.event_specific_data}" for e in result.all_events)
    assert wrong_key not in shown
    assert wrong_key not in str(instance.get_run_by_id(result.run_id).tags)


def test_a_503_burst_on_every_read_fails_the_run_without_green(forseti, opik_target, instance):
    forseti.sync()
    # The listing fails too (every composite is then read), as does every read.
    opik_target.inject(LISTING, "GET", status=503, times=None)
    opik_target.inject(RETRIEVE, "POST", status=503, times=None)

    result = run_job(instance)

    assert_nothing_green(result)
    assert "Opik answered 503" in step_failures(result)["opik_composites"]


def test_a_503_burst_on_one_composite_is_reported_not_passed(forseti, opik_target, instance):
    forseti.sync()
    forseti.configure(max_concurrency=1)  # reads in order: the burst hits the first composite
    forseti.config.state_path.unlink()  # no state: every composite is read
    opik_target.inject(RETRIEVE, "POST", status=503, times=4)  # the retries' attempts

    result = run_job(instance)

    assert not result.success
    drift = check_results(result)["persona_drift"]
    assert not drift.passed
    assert drift.description.startswith(f"Not evaluated for {COMPOSITE}: Opik could not be read")
    assert "503" in drift.description
    assert drift.metadata["composites_unread"].value == 1
    assert drift.metadata["drifting_composites"].value == 0
    metadata = materializations(result)
    assert metadata["opik_composites"]["composites_in_sync"] == 2
    assert metadata["local_individual_prompts"]["pull_failed"] == 1
    # The push read that composite again, after the burst: evaluated, and truly equal.
    assert check_results(result)["composites_match_charter"].passed
    assert metadata["pushed_composites"]["composite_synced"] == 3
    # The run fails in its last step, naming the real cause as the CLI prints it.
    failure = step_failures(result)["pushed_composites"]
    assert (
        f"Pull:\n ! failed        {COMPOSITE}  (did not go through: the reason follows)\n"
        "      Opik answered 503"
    ) in failure


def test_a_full_disk_at_the_charter_write_fails_the_step_with_the_clis_line(
    forseti, opik_client, instance, monkeypatch
):
    assert not forseti.sync().failed
    optimize(opik_client, forseti, user="Optimized {{charter}} {{post}}")
    charter = forseti.charter_path.read_bytes()
    failing = FailingOs("fsync", errno.ENOSPC, forseti.charter_path)
    monkeypatch.setattr("prompt_sync_pipeline.sync.atomic.os", failing)

    result = run_job(instance)

    assert not result.success and failing.failed == 1
    (failure,) = step_failures(result).values()
    assert failure == (
        f"could not write {forseti.charter_path} (No space left on device); the file is as it "
        "was (writes are atomic): free some disk space, then run again"
    )
    assert forseti.charter_path.read_bytes() == charter
