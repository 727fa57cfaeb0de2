"""A team's own ``dg`` project (laid out by the real
``create-dagster project``) lists prompt-sync's component, scaffolds two charters with
``dg scaffold defs``, passes ``dg check defs`` and ``dg list defs``, and ``dg launch`` syncs one
charter with Opik while the other is untouched. And both at once: one in conflict while the
other syncs, their Opik steps taking turns in the workspace's pool."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml

from prompt_sync_pipeline.components.internals import step_failures
from prompt_sync_tests.forseti import CHARTER_TASK, optimize
from prompt_sync_tests.team_project import COMPONENT, TwoCharters

pytestmark = pytest.mark.slow

DAGSTER_YAML = Path(__file__).resolve().parents[1] / "docs" / "dagster.yaml"
INSTANCES = ("forseti", "support_bot")
ASSETS = ("opik_composites", "local_individual_prompts", "pushed_individuals", "pushed_composites")


def test_dg_lists_the_component_and_two_scaffolded_charters_check_and_list(
    team_project: TwoCharters,
):
    project = team_project.project

    listed = project.dg("list", "components").stdout
    assert COMPONENT in listed  # from the package's entry point: no setting in the project
    assert "prompt_sync" not in (project.root / "pyproject.toml").read_text()

    # What `dg scaffold defs` wrote: a defs.yaml each; the starter's configuration and charter.
    assert project.defs_yaml("support_bot") == {
        "type": COMPONENT,
        "attributes": {"config": "prompt_sync.yaml"},
    }
    assert project.defs_yaml("forseti") == {
        "type": COMPONENT,
        "attributes": {"config": "../../../../prompts/forseti/prompt_sync.yaml"},
    }
    assert team_project.support_bot.charter_path.is_file()

    checked = project.dg("check", "defs")
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr

    defs = project.list_defs()
    groups = {asset["asset_key"]: asset["group_name"] for asset in defs["assets"]}
    assert groups == {
        f"{name}/{asset}": name for name in INSTANCES for asset in (*ASSETS, "prompt_performance")
    }
    jobs = {job["name"] for job in defs["jobs"]}
    for name in INSTANCES:
        assert {
            f"{name}_prompt_sync_job",
            f"{name}_prompt_sync_pull_job",
            f"{name}_prompt_resolve_job",
            f"{name}_prompt_promote_job",
            f"{name}_prompt_rollback_job",
            f"{name}_production_check_job",
        } <= jobs
    schedules = {s["name"]: s["cron_schedule"] for s in defs["schedules"]}
    assert schedules == {f"{name}_prompt_sync_daily": "0 0 * * *" for name in INSTANCES}
    assert {s["name"] for s in defs["sensors"]} == {
        f"{name}_opik_prompt_changes" for name in INSTANCES
    }
    checks = {check["key"] for check in defs["asset_checks"]}
    assert "support_bot/local_individual_prompts:persona_drift" in checks
    assert "forseti/local_individual_prompts:persona_drift" in checks

    # A composite naming a prompt its charter lacks: `dg check defs` fails, naming it.
    config_path = team_project.support_bot.config_path
    raw = yaml.safe_load(config_path.read_text())
    for spec in raw["composites"].values():
        spec["user_prompt"] = spec["user_prompt"].replace(".task", ".tsak")
    config_path.write_text(yaml.safe_dump(raw))
    broken = project.dg("check", "defs", check=False)
    assert broken.returncode != 0
    said = broken.stdout + broken.stderr
    assert "'support_bot.tsak' is not a prompt of the charter" in said
    assert "(did you mean 'support_bot.task'?)" in said


def test_dg_launch_syncs_one_charter_and_leaves_the_other_untouched(
    team_project: TwoCharters, opik_client
):
    project, support, forseti = (
        team_project.project,
        team_project.support_bot,
        team_project.forseti,
    )
    forseti_before = forseti.charter_path.read_bytes()

    project.dg("launch", "--job", "support_bot_prompt_sync_job")

    with (
        mock.patch.dict(os.environ, {"DAGSTER_HOME": str(project.home)}),
        dg.DagsterInstance.get() as instance,
    ):
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.job_name == "support_bot_prompt_sync_job"
        assert run.tags["prompt_sync/instance"] == "support_bot"
        assert run.tags["prompt_sync/individual_synced"] == "2"
        assert run.tags["prompt_sync/composite_synced"] == "1"
    # support_bot's charter is in its Opik project, as a chat prompt and two text prompts.
    assert opik_client.get_chat_prompt(
        name="support-bot-assistant", project_name=support.config.opik.project_name
    )
    assert support.config.state_path.is_file()
    # forseti: nothing in its Opik project, its charter as it was, no state file.
    forseti_project = forseti.config.opik.project_name
    assert opik_client.search_prompts(project_name=forseti_project) == []
    assert forseti.charter_path.read_bytes() == forseti_before
    assert not forseti.config.state_path.exists()


def _events_text(instance: dg.DagsterInstance, run_id: str) -> str:
    return "\n".join(
        (record.message or "")
        + (record.dagster_event.message or "" if record.dagster_event else "")
        for record in instance.all_logs(run_id)
    )


def _run_of(instance: dg.DagsterInstance, job: str) -> dg.DagsterRun | None:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job))
    return runs[0] if runs else None


def test_two_charters_at_once_one_in_conflict_their_opik_steps_taking_turns(
    team_project: TwoCharters, opik_client, opik_target
):
    """Two `dg launch` processes on one instance with docs/dagster.yaml's pool limit: the
    instances' first Opik steps take turns in the workspace's pool; forseti's conflict fails
    forseti's run only."""
    project, support, forseti = (
        team_project.project,
        team_project.support_bot,
        team_project.forseti,
    )
    concurrency = yaml.safe_load(DAGSTER_YAML.read_text())["concurrency"]
    settings = {"telemetry": {"enabled": False}, "concurrency": concurrency}
    (project.home / "dagster.yaml").write_text(yaml.safe_dump(settings))
    assert not support.sync().failed and not forseti.sync().failed
    task = forseti.template(CHARTER_TASK)
    forseti.edit(CHARTER_TASK, task + "\nQuote the rule the post breaks.")
    optimize(opik_client, forseti, user=task + "\nAnswer in one sentence.")
    support.edit("support_bot.task", support.template("support_bot.task") + "\nBe brief.")
    pool = f"opik-{opik_target.workspace}"
    # support_bot's first request (its access check) is held: meanwhile its first step holds
    # the pool's one slot.
    held = opik_target.inject(r"/projects/retrieve$", "POST", hold_ms=20_000, times=1)

    first = project.launch("support_bot_prompt_sync_job")
    opik_target.wait_until(lambda: held.hits == 1, "support_bot's access check", timeout=120)
    second = project.launch("forseti_prompt_sync_job")
    with (
        mock.patch.dict(os.environ, {"DAGSTER_HOME": str(project.home)}),
        dg.DagsterInstance.get() as instance,
    ):

        def forseti_waits_for_the_pool() -> bool:
            run = _run_of(instance, "forseti_prompt_sync_job")
            return run is not None and f"blocked by limit for pool {pool}" in _events_text(
                instance, run.run_id
            )

        opik_target.wait_until(forseti_waits_for_the_pool, "forseti waiting for the pool", 120)
        assert first.poll() is None  # support_bot's step still holds the slot
        first.wait(timeout=180)
        second.wait(timeout=180)

        synced = _run_of(instance, "support_bot_prompt_sync_job")
        conflict = _run_of(instance, "forseti_prompt_sync_job")
        assert synced is not None and conflict is not None
        assert synced.status == dg.DagsterRunStatus.SUCCESS
        assert synced.tags["prompt_sync/success_key"].startswith(
            "success:task_prompt_sync:support_bot:"
        )
        assert conflict.status == dg.DagsterRunStatus.FAILURE
        assert "prompt_sync/success_key" not in conflict.tags
        ((step, failure),) = step_failures(instance, conflict.run_id)
        assert step == "forseti__pushed_composites"
        assert f'`forseti_prompt_resolve_job` (run config `{{keep_opik: ["{CHARTER_TASK}"]}}`)' in (
            failure
        )
        released = {
            e.step_key: e.timestamp
            for e in instance.all_logs(synced.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
        }
        started = {
            e.step_key: e.timestamp
            for e in instance.all_logs(conflict.run_id, of_type=dg.DagsterEventType.STEP_START)
        }
    # forseti's first Opik step started only once support_bot's had given the slot back.
    assert started["forseti__opik_composites"] >= released["support_bot__opik_composites"]
    assert support.template("support_bot.task").endswith("Be brief.")
