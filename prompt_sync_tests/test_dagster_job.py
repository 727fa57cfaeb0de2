"""``prompt_sync_job`` in a real Dagster instance against the Opik emulator over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from prompt_sync_tests.dagster_helpers import (
    ASSETS,
    CREATE_VERSION,
    check_results,
    code_location,
    counter_tags,
    materializations,
    run_job,
    run_tags,
    step_failures,
    writes,
)
from prompt_sync_tests.disk import read_only
from prompt_sync_tests.forseti import (
    CHARTER_TASK,
    COMPOSITE,
    COMPOSITES,
    PERSONA,
    Forseti,
    make_forseti,
)

OPTIMIZED = "\nAnswer in at most two sentences."
WORDING = "forseti.wording_correction"


@pytest.fixture
def forseti(tmp_path: Path, opik_target, monkeypatch: pytest.MonkeyPatch) -> Forseti:
    """The forseti example in tmp_path, on this test's Opik project, named by PROMPT_SYNC_CONFIG."""
    example = make_forseti(tmp_path, opik_target.project_name)
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(example.config_path))
    return example


def optimize_in_opik(forseti: Forseti, opik_client, **parts: str) -> None:
    """A new composite version made outside the tool, as an optimizer would (plain SDK)."""
    opik_client.create_chat_prompt(
        name=COMPOSITE,
        messages=forseti.messages(**parts),
        project_name=forseti.config.opik.project_name,
    )


def test_full_run_pulls_pushes_and_records_the_run(forseti, opik_client, opik_target, instance):
    forseti.sync()
    optimized_task = forseti.template(CHARTER_TASK) + OPTIMIZED
    optimize_in_opik(forseti, opik_client, user=optimized_task)
    opik_target.clear_requests()

    result = run_job(instance)

    assert result.success
    metadata = materializations(result)
    assert sorted(metadata) == sorted(ASSETS)
    drift = metadata["opik_composites"]
    assert (drift["pull_changed"], drift["parts_adoptable"], drift["composites_in_sync"]) == (
        1,
        1,
        2,
    )
    assert f"| `{COMPOSITE}` | " in drift["summary"]
    assert "| in sync | Opik ahead |" in drift["summary"]  # short cells; the long text below
    assert "changed in Opik: the pull adopts it" in drift["drift"]
    assert OPTIMIZED.strip() in drift["drift"]
    pull = metadata["local_individual_prompts"]
    assert (pull["pull_changed"], pull["pull_failed"], pull["outcome_adopted"]) == (1, 0, 1)
    assert "| `forseti.charter_validation` | adopted |" in pull["summary"]
    assert f"+{OPTIMIZED.strip()}" in pull["diff: forseti.charter_validation"]
    individuals = metadata["pushed_individuals"]
    assert (individuals["individual_synced"], individuals["individual_failed"]) == (4, 0)
    assert (individuals["outcome_created"], individuals["outcome_unchanged"]) == (1, 3)
    composites = metadata["pushed_composites"]
    assert (composites["composite_synced"], composites["composite_failed"]) == (3, 0)
    # The optimized version already is the rebuild: recorded as the base (by the pull or the
    # push, whichever sees it first), never pushed as a new version.
    assert pull["outcome_recorded_base"] + composites["outcome_recorded_base"] == 1
    assert composites["outcome_created"] == 0

    checks = check_results(result)
    assert checks["persona_drift"].passed
    assert checks["composites_match_charter"].passed

    tags = run_tags(instance, result.run_id)
    assert counter_tags(tags) == {
        "pull_changed": 1,
        "pull_failed": 0,
        "individual_synced": 4,
        "individual_failed": 0,
        "composite_synced": 3,
        "composite_failed": 0,
    }
    today = datetime.now(UTC).strftime("%Y%m%d")  # the example's schedule_timezone is UTC
    assert tags["prompt_sync/success_key"] == f"success:task_prompt_sync:forseti:{today}"
    assert tags["prompt_sync/instance"] == "forseti"
    assert forseti.template(CHARTER_TASK).endswith(OPTIMIZED)

    requests = opik_target.requests()
    # One listing for the whole run (the steps and checks share it and the run's reads); only
    # the composite the listing shows as changed since the state is read.
    listings = [r for r in requests if r.method == "GET" and r.path.endswith("/private/prompts")]
    assert len(listings) == 1
    retrieves = [r for r in requests if r.path.endswith("/prompts/versions/retrieve")]
    assert len(retrieves) == 1
    assert sorted(r.method for r in writes(requests)) == ["PATCH", "POST"]  # base tag, text prompt

    # A second run finds nothing to do and writes nothing at all: the steps wrote the state
    # file beside the charter, so the run's one listing (whose project lookup is also the
    # access check) is all it sends.
    assert forseti.config.state_path.is_file()
    opik_target.clear_requests()
    again = run_job(instance)
    assert again.success
    assert writes(opik_target.requests()) == []
    assert len([r for r in opik_target.requests() if "is-alive" not in r.path]) == 2
    assert counter_tags(run_tags(instance, again.run_id))["pull_changed"] == 0


def test_persona_conflict_blocks_the_pushes(forseti, opik_client, opik_target, instance):
    forseti.sync()
    forseti.edit(PERSONA, forseti.template(PERSONA) + "\nBe warm.")
    optimize_in_opik(forseti, opik_client, system=forseti.template(PERSONA) + "\nBe terse.")
    charter_before = forseti.charter_path.read_text()
    opik_target.clear_requests()

    result = run_job(instance)

    assert not result.success
    drift = check_results(result)["persona_drift"]
    assert not drift.passed
    assert drift.severity == dg.AssetCheckSeverity.ERROR
    assert COMPOSITE in drift.metadata["conflicting_composites"].value
    assert "Be terse." in drift.metadata["difference"].value
    # The fix it suggests is the instance's resolve job, with the run config to paste.
    fix = f'`forseti_prompt_resolve_job` (run config `{{keep_charter: ["{PERSONA}"]}}`)'
    assert fix in drift.description
    # The step fails with the CLI's whole message (the conflict, both texts, every fix), not
    # with Dagster's "blocking asset check failed".
    failure = step_failures(result)["local_individual_prompts"]
    assert failure.startswith("forseti_prompt_sync_job: ")
    assert "Be terse." in failure and "Be warm." in failure
    assert fix in failure
    assert sorted(materializations(result)) == ["local_individual_prompts", "opik_composites"]
    assert writes(opik_target.requests()) == []
    assert forseti.charter_path.read_text() == charter_before
    tags = run_tags(instance, result.run_id)
    assert counter_tags(tags)["pull_failed"] >= 1
    # The pushes never ran: the run claims no counter for them.
    assert "individual_synced" not in counter_tags(tags)
    assert "prompt_sync/success_key" not in tags


def test_pushed_individuals_alone_pushes_only_text_prompts(forseti, opik_target, instance):
    forseti.sync()
    forseti.edit(WORDING, forseti.template(WORDING) + "\nKeep emojis.")
    opik_target.clear_requests()

    result = run_job(instance, assets=["pushed_individuals"])

    assert result.success
    assert sorted(materializations(result)) == ["pushed_individuals"]
    requests = opik_target.requests()
    assert len(writes(requests)) == 1  # the one edited text prompt
    # The listing (project id, also the access check; one page), no read of an unchanged prompt,
    # none of a composite (their names never appear in a query), and the one write.
    assert len(requests) == 2 + 1
    assert not any(name in r.query for r in requests for name in COMPOSITES)
    tags = run_tags(instance, result.run_id)
    # Only the step it ran: no zeros for the pull and the composites it never did.
    assert counter_tags(tags) == {"individual_synced": 4, "individual_failed": 0}
    assert "prompt_sync/success_key" not in tags  # not the whole task


def test_a_failed_prompt_fails_the_run_after_every_step(forseti, opik_target, instance):
    forseti.sync()
    forseti.edit(WORDING, forseti.template(WORDING) + "\nKeep emojis.")
    # The text prompt's new version is refused (not retryable); the composite's goes through.
    opik_target.inject(CREATE_VERSION, "POST", status=400, times=1)

    result = run_job(instance)

    assert not result.success
    metadata = materializations(result)
    assert sorted(metadata) == sorted(ASSETS)  # every step did what it could
    assert metadata["pushed_individuals"]["individual_failed"] == 1
    assert metadata["pushed_composites"]["composite_synced"] == 3
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "forseti__pushed_composites"
    assert WORDING in failure.step_failure_data.user_failure_data.description
    tags = run_tags(instance, result.run_id)
    assert counter_tags(tags)["individual_failed"] == 1
    assert "prompt_sync/success_key" not in tags


def test_dry_run_writes_nothing(forseti, opik_client, opik_target, instance):
    forseti.sync()
    optimize_in_opik(forseti, opik_client, user=forseti.template(CHARTER_TASK) + OPTIMIZED)
    charter_before = forseti.charter_path.read_text()
    opik_target.clear_requests()

    # On a read-only checkout: a dry run writes nothing, not even the charter's lock file.
    lock = forseti.charter_path.with_name(forseti.charter_path.name + ".lock")
    lock.unlink(missing_ok=True)  # left by the first sync
    with read_only(forseti.charter_path.parent):
        result = run_job(
            instance, run_config={"resources": {"prompt_sync": {"config": {"dry_run": True}}}}
        )

    assert result.success
    assert writes(opik_target.requests()) == []
    assert forseti.charter_path.read_text() == charter_before
    assert not lock.exists()
    assert materializations(result)["local_individual_prompts"]["pull_changed"] == 1
    tags = run_tags(instance, result.run_id)
    assert tags["prompt_sync/dry_run"] == "true"
    assert "prompt_sync/success_key" not in tags


def test_a_configuration_gone_after_load_fails_the_first_step_with_the_cli_message(
    forseti, instance
):
    defs = code_location()  # loaded while the file was there
    forseti.config_path.unlink()

    result = run_job(instance, defs=defs)

    assert not result.success
    assert materializations(result) == {}
    failure = step_failures(result)["opik_composites"]
    assert failure == f"{forseti.config_path}: configuration file not found"
