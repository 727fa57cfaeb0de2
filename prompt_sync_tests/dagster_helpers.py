"""Helpers for the Dagster tests: the code location as it loads now, its jobs run in a real
instance, and their results read back by each asset's name within the instance.

This repository's code location has one instance, ``forseti`` (``prompt_sync_pipeline/defs/
forseti``), which syncs the configuration ``PROMPT_SYNC_CONFIG`` names: tests point the variable
at their copy of the example, then load the code location (``code_location()``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import dagster as dg
import pytest

from prompt_sync_pipeline import definitions
from prompt_sync_pipeline.sync.report import COUNTERS

NAME = "forseti"  # the repository's own instance
ASSETS = ("opik_composites", "local_individual_prompts", "pushed_individuals", "pushed_composites")
SYNC_JOB = f"{NAME}_prompt_sync_job"
PULL_JOB = f"{NAME}_prompt_sync_pull_job"
RESOLVE_JOB = f"{NAME}_prompt_resolve_job"
SCHEDULE = f"{NAME}_prompt_sync_daily"
SENSOR = f"{NAME}_opik_prompt_changes"
CREATE_VERSION = r"/prompts/versions$"  # POST: a new prompt version (the only way to write one)


def code_location() -> dg.Definitions:
    """The code location's definitions, loaded now (its instances read their configuration)."""
    return definitions.defs()


def key(asset: str, name: str = NAME) -> dg.AssetKey:
    return dg.AssetKey([name, asset])


def run_job(
    instance: dg.DagsterInstance,
    *,
    assets: Iterable[str] | None = None,
    run_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    job: str = SYNC_JOB,
    defs: dg.Definitions | None = None,
) -> dg.ExecuteInProcessResult:
    """The instance's sync job (or a selection of its assets) in ``instance``, as a real run."""
    defs = defs or code_location()
    name = job.split("_prompt_")[0]
    selection = [key(asset, name) for asset in assets] if assets is not None else None
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance,
        asset_selection=selection,
        run_config=run_config or {},
        tags=tags,
        raise_on_error=False,
    )


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Asset name within its instance → its metadata values (plain Python)."""
    return {
        event.asset_key.path[-1]: {
            key: value.value for key, value in event.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {
        evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()
    }


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """Asset name within its instance → the description its step failed with."""
    return {
        event.step_key.split("__", 1)[-1]: event.step_failure_data.user_failure_data.description
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.user_failure_data
    }


def run_tags(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return dict(run.tags)


def counter_tags(tags: dict[str, str]) -> dict[str, int]:
    """The counters a run carries (only those of the steps it ran)."""
    return {
        name: int(tags[f"prompt_sync/{name}"]) for name in COUNTERS if f"prompt_sync/{name}" in tags
    }


def writes(requests: Iterable[Any]) -> list[Any]:
    """Requests that change Opik: version creations and tag updates."""
    return [
        r
        for r in requests
        if (r.method == "POST" and r.path.endswith("/prompts/versions"))
        or r.method in ("PATCH", "PUT", "DELETE")
    ]


@pytest.fixture
def instance() -> Iterator[Any]:
    """A Dagster instance of its own (SQLite in a temp dir) for one test."""
    with dg.instance_for_test() as dagster_instance:
        yield dagster_instance


# The sensor, ticked as the daemon ticks it -------------------------------------------------------


def tick(instance: dg.DagsterInstance, cursor: str | None) -> Any:
    defs = code_location()
    sensor = defs.resolve_sensor_def(SENSOR)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=defs.resources
    ) as context:
        return sensor.evaluate_tick(context)


def settled(instance: dg.DagsterInstance) -> str | None:
    """The cursor once the sensor has handed whatever it found at start-up to a run."""
    return tick(instance, None).cursor


def launch(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Run what the sensor asked for, in the instance, as the daemon would."""
    return (
        code_location()
        .resolve_job_def(request.job_name)
        .execute_in_process(
            instance=instance,
            run_config=request.run_config,
            tags={**request.tags, "dagster/run_key": request.run_key},
        )
    )


def run_check(instance: dg.DagsterInstance) -> Any:
    """The instance's production check job in the instance: the one check evaluation it records."""
    result = (
        code_location()
        .resolve_job_def(f"{NAME}_production_check_job")
        .execute_in_process(instance=instance)
    )
    assert result.success  # a WARN never fails the run
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation
