"""Done when, for issue 20: a team's own ``dg`` project (laid out by the real
``create-dagster project``) lists prompt-sync's component, scaffolds two charters with
``dg scaffold defs``, passes ``dg check defs`` and ``dg list defs``, and ``dg launch`` syncs one
charter with Opik while the other is untouched."""

from __future__ import annotations

import os
from unittest import mock

import dagster as dg
import pytest

from prompt_sync_tests.team_project import COMPONENT, TwoCharters

pytestmark = pytest.mark.slow

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
