"""``prompt-sync promote`` and ``rollback`` against the emulator, with experiments recorded
through the SDK's own ``evaluate()`` with known scores, and the same moves as Dagster ops.

These experiments have three dataset items: too few for the paired gate, so they exercise the
moves through the mean gate (``--gate mean``); test_promotion_gate.py covers the paired gate."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest

from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.promotion import Releaser
from prompt_sync_pipeline.promotion.requests import Promotion, Rollback
from prompt_sync_tests.dagster_helpers import code_location, run_check
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, Forseti
from prompt_sync_tests.forseti import run_cli as cli
from prompt_sync_tests.lab import BRIEF, RAMBLING, Lab, environments, evaluate_version, production

MEAN = ("--gate", "mean")


@pytest.fixture
def scored(synced: Forseti, lab: Lab) -> dict[str, Any]:
    """v1 (the sync's, in production, accuracy 0.5), v2 (optimized in Opik, 0.8333) and v3
    (a worse optimization, 0.3333), each evaluated once over the same dataset."""
    v1 = lab.version(COMPOSITE, 1)
    v2 = lab.new_version(synced, COMPOSITE, BRIEF)
    v3 = lab.new_version(synced, COMPOSITE, RAMBLING)
    means = {
        "v1": evaluate_version(lab, v1, "v1-baseline", [0.5, 0.5, 0.5]),
        "v2": evaluate_version(lab, v2, "v2-brief", [1.0, 0.5, 1.0]),
        "v3": evaluate_version(lab, v3, "v3-rambling", [0.0, 0.5, 0.5]),
    }
    return {"forseti": synced, "means": means, "lab": lab}


def test_the_first_promotion_has_nothing_to_beat(synced, opik_client, capsys):
    code, out, _ = cli(capsys, synced, "promote", COMPOSITE, "--environment", "production")

    assert code == 0, out
    # The default version is the charter's current composite: the sync's v1.
    assert f"promoted {COMPOSITE} v1" in out
    assert "held no version before: nothing to beat" in out
    assert production(opik_client, synced) == "v1"


def test_promote_moves_production_when_the_version_won_its_experiments(scored, opik_client, capsys):
    forseti, means = scored["forseti"], scored["means"]
    cli(capsys, forseti, "promote", COMPOSITE, "--environment", "production")

    code, out, _ = cli(
        capsys, forseti, "promote", COMPOSITE, "--environment", "production", "--version", "v2",
        *MEAN,
    )  # fmt: skip

    assert code == 0, out
    assert f"promoted {COMPOSITE} v2" in out and "(was v1)" in out
    assert "gate: mean" in out
    assert f"candidate v2: accuracy {means['v2']:.4f} (mean of 1 experiment: v2-brief)" in out
    assert f"production's v1: accuracy {means['v1']:.4f} (mean of 1 experiment: v1-baseline)" in out
    assert production(opik_client, forseti) == "v2"
    assert environments(opik_client, forseti)["v1"] == []


def test_a_worse_version_is_refused_with_both_scores(scored, opik_client, capsys):
    forseti, means = scored["forseti"], scored["means"]
    cli(capsys, forseti, "promote", COMPOSITE, "--version", "v2", *MEAN)

    code, out, _ = cli(
        capsys, forseti, "promote", COMPOSITE, "--environment", "production", "--version", "v3",
        *MEAN,
    )  # fmt: skip

    assert code == 1
    assert f"refused: {COMPOSITE} v3 does not beat production's v2 on accuracy (mean gate)" in out
    assert f"candidate v3: accuracy {means['v3']:.4f} (mean of 1 experiment: v3-rambling)" in out
    assert f"production's v2: accuracy {means['v2']:.4f} (mean of 1 experiment: v2-brief)" in out
    assert "--version v3 --force` promotes it anyway" in out
    assert production(opik_client, forseti) == "v2"


def test_min_delta_raises_the_bar(scored, opik_client, capsys):
    forseti = scored["forseti"]
    cli(capsys, forseti, "promote", COMPOSITE, "--environment", "production")

    code, out, _ = cli(
        capsys, forseti, "promote", COMPOSITE, "--environment", "production",
        "--version", "v2", "--min-delta", "0.5", "--json", *MEAN,
    )  # fmt: skip

    assert code == 1
    document = json.loads(out)
    assert document["outcome"] == "refused"
    comparison = document["comparison"]
    assert document["gate"] == "mean" and document["paired"] is None
    assert comparison["required"] == pytest.approx(scored["means"]["v1"] + 0.5)
    assert comparison["candidate"] == {
        "version": "v2",
        "score": pytest.approx(scored["means"]["v2"]),
        "experiments": ["v2-brief"],
    }
    assert production(opik_client, forseti) == "v1"


def test_force_promotes_regardless_and_says_so(scored, opik_client, capsys):
    forseti = scored["forseti"]
    cli(
        capsys,
        forseti,
        "promote",
        COMPOSITE,
        "--environment",
        "production",
        "--version",
        "v2",
        *MEAN,
    )

    code, out, _ = cli(
        capsys, forseti, "promote", COMPOSITE, "--environment", "production",
        "--version", "v3", "--force", *MEAN,
    )  # fmt: skip

    assert code == 0
    assert f"promoted {COMPOSITE} v3" in out
    assert "to production with --force, despite the mean gate (was v2)" in out
    assert production(opik_client, forseti) == "v3"


def test_dry_run_moves_nothing(scored, opik_client, capsys):
    forseti = scored["forseti"]

    code, out, _ = cli(
        capsys, forseti, "promote", COMPOSITE, "--environment", "production",
        "--version", "v2", "--dry-run",
    )  # fmt: skip

    assert code == 0
    assert "dry run: would point production at" in out
    assert production(opik_client, forseti) is None


def test_rollback_moves_the_environment_back_one_promotion_at_a_time(scored, opik_client, capsys):
    forseti = scored["forseti"]
    for version in ("v1", "v2"):
        cli(
            capsys,
            forseti,
            "promote",
            COMPOSITE,
            "--environment",
            "production",
            "--version",
            version,
            *MEAN,
        )
    cli(
        capsys, forseti, "promote", COMPOSITE, "--environment", "production",
        "--version", "v3", "--force",
    )  # fmt: skip

    code, out, _ = cli(capsys, forseti, "rollback", COMPOSITE, "--environment", "production")
    assert code == 0, out
    assert f"rolled production back to {COMPOSITE} v2" in out and "(was v3)" in out
    assert production(opik_client, forseti) == "v2"

    code, out, _ = cli(capsys, forseti, "rollback", COMPOSITE, "--environment", "production")
    assert code == 0
    assert production(opik_client, forseti) == "v1"

    # v1 took production from nothing: there is nowhere further back to go, and that is fine.
    code, out, err = cli(capsys, forseti, "rollback", COMPOSITE, "--environment", "production")
    assert code == 0, err
    assert f"nothing to roll back: production pointed to no version of {COMPOSITE} before" in out
    command = f"rollback {COMPOSITE} --environment production --to vN`"
    assert f"`prompt-sync --config {forseti.config_path} {command}" in out
    assert production(opik_client, forseti) == "v1"


def test_one_releaser_sees_its_own_moves(scored):
    # A Releaser keeps its reads (a sensor tick judges many versions on them); its own writes
    # must not leave it deciding on what Opik held before them.
    config = scored["forseti"].config
    with OpikProject.connect(config.opik) as opik:
        releaser = Releaser(config, opik)
        for version in ("v1", "v2"):
            moved = releaser.carry_out(Promotion(COMPOSITE, "production", version, force=True))
            assert moved.ok, moved.message
        back = releaser.carry_out(Rollback(COMPOSITE, environment="production"))

    assert (back.outcome, back.version, back.previous) == ("rolled_back", "v1", "v2")


def test_rollback_to_a_named_version_and_refusal_without_a_record(scored, opik_client, capsys):
    forseti = scored["forseti"]
    # Someone sets production by hand in Opik: prompt-sync has no record of where it was.
    opik_client.set_prompt_environments(
        COMPOSITE, ["production"], version="v3", project_name=forseti.config.opik.project_name
    )

    code, _, err = cli(capsys, forseti, "rollback", COMPOSITE, "--environment", "production")
    assert code == 1
    assert "no record of where it pointed before" in err
    assert f"{COMPOSITE} --environment production --to vN`" in err
    assert production(opik_client, forseti) == "v3"

    code, out, _ = cli(
        capsys, forseti, "rollback", COMPOSITE, "--environment", "production", "--to", "v1"
    )
    assert code == 0
    assert f"rolled production back to {COMPOSITE} v1" in out
    assert production(opik_client, forseti) == "v1"


def test_rollback_by_restore_is_pulled_by_the_next_sync(scored, opik_client, capsys):
    forseti = scored["forseti"]
    charter_before = forseti.template(CHARTER_TASK)

    # The latest version (v3) is the bad one: restore the one before it as the newest.
    code, out, _ = cli(capsys, forseti, "rollback", COMPOSITE)

    assert code == 0, out
    assert f"restored {COMPOSITE} v2" in out and "as v4" in out
    assert "the next sync pulls it into the charter" in out
    latest = opik_client.rest_client.prompts.retrieve_prompt_version(
        name=COMPOSITE, project_name=forseti.config.opik.project_name
    )
    assert latest.version_number == "v4"
    assert json.loads(latest.template) == forseti.messages(user=BRIEF)
    assert latest.change_description.startswith("Restored from version")
    assert forseti.template(CHARTER_TASK) == charter_before  # the rollback itself writes no file

    report = forseti.sync()

    assert not report.failed, report.to_json()
    assert report.counters["pull_changed"] == 1
    assert forseti.template(CHARTER_TASK) == BRIEF


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["promote", "nope", "--environment", "production"], "'nope' is not a composite"),
        (["promote", COMPOSITE, "--environment", "prod"], "environment 'prod' is not registered"),
        (["promote", COMPOSITE, "--environment", "production", "--version", "3"], "write it as v3"),
        (["rollback", COMPOSITE, "--to", "v9"], "no version v9 (the newest is v3)"),
    ],
)
def test_bad_usage_exits_2_and_changes_nothing(scored, opik_client, capsys, argv, message):
    code, _, err = cli(capsys, scored["forseti"], *argv)

    assert code == 2
    assert message in err
    assert set(environments(opik_client, scored["forseti"])) == {"v1", "v2", "v3"}


def test_two_shared_metrics_need_a_choice(synced, lab, opik_client, capsys):
    v1 = lab.version(COMPOSITE, 1)
    v2 = lab.new_version(synced, COMPOSITE, BRIEF)
    evaluate_version(lab, v1, "a1", [0.5, 0.5, 0.5], metric="accuracy")
    evaluate_version(lab, v1, "t1", [0.9, 0.9, 0.9], metric="tone")
    evaluate_version(lab, v2, "a2", [1.0, 1.0, 1.0], metric="accuracy")
    evaluate_version(lab, v2, "t2", [0.1, 0.1, 0.1], metric="tone")
    cli(capsys, synced, "promote", COMPOSITE, "--environment", "production")

    base = ["promote", COMPOSITE, "--environment", "production", "--version", "v2", *MEAN]
    code, _, err = cli(capsys, synced, *base)
    assert code == 2 and "both scored on accuracy, tone: choose one with --metric" in err

    assert cli(capsys, synced, *base, "--metric", "tone")[0] == 1
    assert cli(capsys, synced, *base, "--metric", "accuracy")[0] == 0
    assert production(opik_client, synced) == "v2"


def test_experiments_on_another_dataset_do_not_count(synced, lab, opik_client, capsys):
    v2 = lab.new_version(synced, COMPOSITE, BRIEF)
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1-baseline", [0.5, 0.5, 0.5])
    elsewhere = f"{lab.project}-other"
    evaluate_version(lab, v2, "v2-elsewhere", [1.0, 1.0, 1.0], dataset_name=elsewhere)
    cli(capsys, synced, "promote", COMPOSITE, "--environment", "production")

    code, out, _ = cli(
        capsys, synced, "promote", COMPOSITE, "--environment", "production",
        "--version", "v2", "--metric", "accuracy", *MEAN,
    )  # fmt: skip

    assert code == 1
    assert "no experiments to compare" in out and "shared datasets: none" in out
    assert production(opik_client, synced) == "v1"


# The same moves from Dagster ---------------------------------------------------------------

PROMOTE, ROLLBACK = "forseti_prompt_promote_job", "forseti_prompt_rollback_job"


def release_job(name: str) -> dg.JobDefinition:
    """The instance's promote or rollback job, from the code location as it loads now."""
    return code_location().resolve_job_def(name)


def test_promote_and_rollback_ops_record_the_decision_and_both_scores(
    scored, opik_client, capsys, monkeypatch
):
    forseti, means = scored["forseti"], scored["means"]
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))
    cli(capsys, forseti, "promote", COMPOSITE, "--environment", "production")

    def op_config(op: str, **fields: Any) -> dict[str, Any]:
        return {"ops": {f"forseti_{op}": {"config": {"composite": COMPOSITE, **fields}}}}

    with dg.instance_for_test() as instance:
        promoted = release_job(PROMOTE).execute_in_process(
            run_config=op_config("promote", version="v2", metric="accuracy", gate="mean"),
            instance=instance,
        )
        assert promoted.success
        (output,) = [e for e in promoted.all_node_events if e.is_successful_output]
        metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
        assert metadata["decision"] == "promoted"
        assert metadata["candidate_score"] == pytest.approx(means["v2"])
        assert metadata["current_score"] == pytest.approx(means["v1"])
        assert (metadata["version"], metadata["previous"]) == ("v2", "v1")
        assert metadata["gate"] == "mean"
        assert production(opik_client, forseti) == "v2"

        refused = release_job(PROMOTE).execute_in_process(
            run_config=op_config("promote", version="v3", gate="mean"),
            instance=instance,
            raise_on_error=False,
        )
        assert not refused.success
        (failure,) = [e for e in refused.all_events if e.is_step_failure]
        failure_data = failure.step_failure_data
        assert "does not beat production's v2" in str(failure_data.error)
        # The way out is the job itself, with the run config to paste in the launchpad.
        assert (
            f'`{PROMOTE}` (run config `{{composite: "{COMPOSITE}", environment: '
            '"production", version: "v3", force: true}`) promotes it anyway'
        ) in failure_data.user_failure_data.description
        scores = {k: v.value for k, v in failure_data.user_failure_data.metadata.items()}
        assert scores["decision"] == "refused"
        assert scores["candidate_score"] == pytest.approx(means["v3"])
        assert scores["current_score"] == pytest.approx(means["v2"])
        assert production(opik_client, forseti) == "v2"

        tried = release_job(ROLLBACK).execute_in_process(
            run_config=op_config("rollback", environment="production", dry_run=True),
            instance=instance,
        )
        (output,) = [e for e in tried.all_node_events if e.is_successful_output]
        assert output.step_output_data.metadata["decision"].value == "would_roll_back"
        assert production(opik_client, forseti) == "v2"

        rolled = release_job(ROLLBACK).execute_in_process(
            run_config=op_config("rollback", environment="production"), instance=instance
        )
        assert rolled.success
        assert production(opik_client, forseti) == "v1"

        # v1 took production from nothing: the way to another version is the job, to fill in.
        nothing = release_job(ROLLBACK).execute_in_process(
            run_config=op_config("rollback", environment="production"), instance=instance
        )
        (output,) = [e for e in nothing.all_node_events if e.is_successful_output]
        metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
        assert metadata["decision"] == "nothing_to_roll_back"
        assert (
            f'`{ROLLBACK}` (run config `{{composite: "{COMPOSITE}", environment: '
            '"production", version: "vN"}`)'
        ) in metadata["message"]


# production_not_behind ----------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_production_not_behind_warns_when_a_newer_version_scores_higher(
    scored, opik_client, capsys, monkeypatch, environment
):
    forseti, means, lab = scored["forseti"], scored["means"], scored["lab"]
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))
    if environment != "production":  # the environment promote and the check watch
        forseti.configure(promotion={"environment": environment})
        opik_client.set_prompt_environments(
            COMPOSITE, [environment], version="v1", project_name=forseti.config.opik.project_name
        )
    code, out, err = cli(capsys, forseti, "promote", COMPOSITE, "--version", "v2", *MEAN)
    assert code == 0 and f"to {environment}" in out, out + err

    with dg.instance_for_test() as instance:
        # v3 is the newest version with experiments, but it scores below production's v2.
        evaluation = run_check(instance)
        assert evaluation.passed, evaluation.description
        assert evaluation.check_name == "production_not_behind"

        v4 = lab.new_version(forseti, COMPOSITE, "Judge {{post}} against {{charter}}, in a line.")
        v4_mean = evaluate_version(lab, v4, "v4-one-line", [1.0, 1.0, 1.0])
        evaluation = run_check(instance)

    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.description.startswith(f"{environment} is behind on ")
    assert f"{COMPOSITE} (v2; v4 scores higher)" in evaluation.description
    metadata = {key: value.value for key, value in evaluation.metadata.items()}
    assert metadata["behind_composites"] == [COMPOSITE]
    assert f"accuracy {means['v2']:.4f} < {v4_mean:.4f}" in metadata["table"]


def test_an_opik_failure_exits_1_and_leaves_production_where_it_was(
    scored, opik_client, opik_target, capsys
):
    forseti = scored["forseti"]
    cli(capsys, forseti, "promote", COMPOSITE, "--environment", "production")
    opik_target.inject(r"/prompts/versions/[^/]+/environments$", "PATCH", status=400, times=None)

    code, out, err = cli(
        capsys, forseti, "promote", COMPOSITE, "--environment", "production", "--version", "v2",
        *MEAN,
    )  # fmt: skip

    assert code == 1
    assert "Opik answered 400" in err and "promoted" not in out
    assert production(opik_client, forseti) == "v1"


def test_an_op_asked_for_an_unknown_composite_fails_with_the_reason(synced, monkeypatch):
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(synced.config_path))

    with dg.instance_for_test() as instance:
        result = release_job(ROLLBACK).execute_in_process(
            run_config={"ops": {"forseti_rollback": {"config": {"composite": "nope"}}}},
            instance=instance,
            raise_on_error=False,
        )

    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "'nope' is not a composite of the configuration" in str(failure.step_failure_data.error)
