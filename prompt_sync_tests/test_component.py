"""``PromptSyncComponent`` scaffolded and loaded with Dagster's own component test helpers
(``dagster.components.testing``), and two instances in one project: each under its own name, one
in conflict while the other syncs, the conflict resolved with the run config its failure gives.
(Runs of two instances at the same time, taking turns in the Opik pool: test_team_project.py.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster.components.testing import DefsFolderSandbox, create_defs_folder_sandbox

from prompt_sync_pipeline import PromptSyncComponent
from prompt_sync_tests.dagster_helpers import (
    check_results,
    materializations,
    run_job,
    step_failures,
)
from prompt_sync_tests.forseti import CHARTER_TASK, Forseti, make_forseti, optimize
from prompt_sync_tests.team_project import use_test_project

TASK_EDIT = "\nQuote the rule the post breaks."
OPIK_EDIT = "\nAnswer in one sentence."


@pytest.fixture
def sandbox() -> Iterator[DefsFolderSandbox]:
    with create_defs_folder_sandbox() as folder:
        yield folder


def test_scaffolding_writes_a_starter_that_loads_as_it_is(sandbox: DefsFolderSandbox):
    path = sandbox.scaffold_component(component_cls=PromptSyncComponent, defs_path="support_bot")

    assert yaml.safe_load((path / "defs.yaml").read_text()) == {
        "type": "prompt_sync_pipeline.components.component.PromptSyncComponent",
        "attributes": {"config": "prompt_sync.yaml"},
    }
    config = yaml.safe_load((path / "prompt_sync.yaml").read_text())
    assert config["charter"] == "support_bot_charter.json"
    assert config["opik"]["project_name"] == "support-bot"
    assert config["composites"] == {
        "support-bot-assistant": {
            "system_prompt": "support_bot.persona",
            "user_prompt": "support_bot.task",
        }
    }
    with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
        assert isinstance(component, PromptSyncComponent)
        dg.Definitions.validate_loadable(defs)
        keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
        assert "support_bot/pushed_composites" in keys
        assert defs.resolve_job_def("support_bot_prompt_sync_job")


def test_scaffolding_with_config_points_at_an_existing_configuration(
    sandbox: DefsFolderSandbox, tmp_path: Path
):
    forseti = make_forseti(tmp_path, "forseti")

    path = sandbox.scaffold_component(
        component_cls=PromptSyncComponent,
        defs_path="forseti",
        scaffold_params={"config": str(forseti.config_path)},
    )

    # Outside the project: the path as given, absolute; no starter files.
    attributes = yaml.safe_load((path / "defs.yaml").read_text())["attributes"]
    assert attributes == {"config": str(forseti.config_path)}
    assert sorted(p.name for p in path.iterdir()) == ["defs.yaml"]
    with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
        schedule = defs.resolve_schedule_def("forseti_prompt_sync_daily")
        assert schedule.execution_timezone == "UTC"  # the configuration's schedule_timezone


def test_attributes_name_the_instance_and_set_what_is_dagsters(
    sandbox: DefsFolderSandbox, tmp_path: Path
):
    forseti = make_forseti(tmp_path, "forseti")
    path = sandbox.scaffold_component(
        component_cls=PromptSyncComponent,
        defs_path="charters",
        defs_yaml_contents={
            "type": "prompt_sync_pipeline.PromptSyncComponent",
            "attributes": {
                "config": str(forseti.config_path),
                "name": "billing",
                "schedule": {"cron": "30 2 * * *", "timezone": "Europe/Paris", "running": False},
                "sensor": {"running": True, "interval_seconds": 60},
                "owners": ["team:billing"],
                "tags": {"domain": "billing"},
                "pool": "opik-cloud",
            },
        },
    )

    with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
        schedule = defs.resolve_schedule_def("billing_prompt_sync_daily")
        assert (schedule.cron_schedule, schedule.execution_timezone) == (
            "30 2 * * *",
            "Europe/Paris",
        )
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        sensor = defs.resolve_sensor_def("billing_opik_prompt_changes")
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
        assert sensor.minimum_interval_seconds == 60
        spec = next(
            iter(defs.resolve_assets_def(dg.AssetKey(["billing", "opik_composites"])).specs)
        )
        assert (spec.group_name, spec.owners, spec.tags["domain"]) == (
            "billing",
            ["team:billing"],
            "billing",
        )
        job = defs.resolve_job_def("billing_prompt_sync_job")
        assert job.tags["domain"] == "billing"
        assert {node.definition.pool for node in job.graph.nodes} == {"opik-cloud"}


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"name": "support-bot"}, "'support-bot' can't name a prompt-sync instance"),
        ({"schedule": {"timezone": "Mars/Olympus"}}, "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_loading_refuses_what_dagster_could_not_run(
    sandbox: DefsFolderSandbox, tmp_path: Path, attributes: dict[str, Any], message: str
):
    forseti = make_forseti(tmp_path, "forseti")
    path = sandbox.scaffold_component(
        component_cls=PromptSyncComponent,
        defs_path="forseti",
        defs_yaml_contents={
            "type": "prompt_sync_pipeline.PromptSyncComponent",
            "attributes": {"config": str(forseti.config_path), **attributes},
        },
    )

    with pytest.raises(Exception) as raised, sandbox.load_component_and_build_defs(defs_path=path):
        pass
    assert message in _chain(raised.value)


def _chain(error: BaseException | None) -> str:
    """Every message of an exception and its causes (Dagster wraps a component's error)."""
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    return "\n".join(messages)


# Two instances in one project -----------------------------------------------------------------


@contextmanager
def two_instances(
    sandbox: DefsFolderSandbox, tmp_path: Path, project: str
) -> Iterator[tuple[dg.Definitions, Forseti, Forseti]]:
    """``support_bot`` (the scaffolded starter) and ``forseti`` (the example, scaffolded with
    ``config``), each on an Opik project of its own in this test's workspace."""
    support_path = sandbox.scaffold_component(
        component_cls=PromptSyncComponent, defs_path="support_bot"
    )
    use_test_project(support_path / "prompt_sync.yaml", f"{project}-support")
    support = Forseti(support_path / "prompt_sync.yaml", support_path / "support_bot_charter.json")
    (tmp_path / "forseti").mkdir()
    forseti = make_forseti(tmp_path / "forseti", f"{project}-forseti")
    sandbox.scaffold_component(
        component_cls=PromptSyncComponent,
        defs_path="forseti",
        scaffold_params={"config": str(forseti.config_path)},
    )
    with sandbox.build_all_defs() as defs:
        yield defs, support, forseti


def test_a_conflict_in_one_instance_leaves_the_other_green_and_its_fix_resolves_it(
    sandbox: DefsFolderSandbox, tmp_path: Path, opik_target, opik_client, instance
):
    with two_instances(sandbox, tmp_path, opik_target.project_name) as (defs, support, forseti):
        for name in ("support_bot", "forseti"):
            assert run_job(instance, job=f"{name}_prompt_sync_job", defs=defs).success
        # forseti: its task prompt edited in the charter and, otherwise, in Opik.
        task = forseti.template(CHARTER_TASK)
        forseti.edit(CHARTER_TASK, task + TASK_EDIT)
        optimize(opik_client, forseti, user=task + OPIK_EDIT)
        # support_bot: its task edited in the charter only.
        support.edit("support_bot.task", support.template("support_bot.task") + "\nBe brief.")

        synced = run_job(instance, job="support_bot_prompt_sync_job", defs=defs)
        conflict = run_job(instance, job="forseti_prompt_sync_job", defs=defs)

        assert synced.success
        tags = instance.get_run_by_id(synced.run_id).tags
        assert tags["prompt_sync/instance"] == "support_bot"
        assert tags["prompt_sync/success_key"].startswith("success:task_prompt_sync:support_bot:")
        assert materializations(synced)["pushed_individuals"]["outcome_created"] == 1
        assert check_results(synced)["composites_match_charter"].passed

        assert not conflict.success
        assert "prompt_sync/success_key" not in instance.get_run_by_id(conflict.run_id).tags
        failure = step_failures(conflict)["pushed_composites"]
        assert failure.startswith("forseti_prompt_sync_job: ")
        assert TASK_EDIT.strip() in failure and OPIK_EDIT.strip() in failure
        pasted = f'{{keep_opik: ["{CHARTER_TASK}"]}}'
        assert f"`forseti_prompt_resolve_job` (run config `{pasted}`)" in failure

        # The run config the failure gives, pasted into the resolve job's launchpad.
        resolved = run_job(
            instance, job="forseti_prompt_resolve_job", run_config=yaml.safe_load(pasted), defs=defs
        )
        assert resolved.success
        assert forseti.template(CHARTER_TASK) == task + OPIK_EDIT
