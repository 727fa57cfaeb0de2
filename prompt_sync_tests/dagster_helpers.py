"""Helpers for the Dagster tests: run the code location's job in a real instance, read results."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import dagster as dg
import pytest

from prompt_sync_pipeline.definitions import defs
from prompt_sync_pipeline.defs.resources import OpikResource, PromptSyncResource
from prompt_sync_pipeline.defs.schedules import JOB_NAME
from prompt_sync_pipeline.sync.report import COUNTERS

ASSETS = ("opik_composites", "local_individual_prompts", "pushed_individuals", "pushed_composites")
CREATE_VERSION = r"/prompts/versions$"  # POST: a new prompt version (the only way to write one)


def run_job(
    instance: dg.DagsterInstance,
    *,
    assets: Iterable[str] | None = None,
    run_config: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """``prompt_sync_job`` (or a selection of its assets) in ``instance``, as a real run."""
    selection = [dg.AssetKey(name) for name in assets] if assets is not None else None
    return defs.resolve_job_def(JOB_NAME).execute_in_process(
        instance=instance,
        asset_selection=selection,
        run_config=run_config or {},
        tags=tags,
        raise_on_error=False,
    )


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Asset name → its metadata values (plain Python)."""
    return {
        event.asset_key.to_user_string(): {
            key: value.value for key, value in event.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {
        evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()
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

RESOURCES = {"prompt_sync": PromptSyncResource(opik=OpikResource())}


def tick(instance: dg.DagsterInstance, cursor: str | None) -> Any:
    sensor = defs.resolve_sensor_def("opik_prompt_changes")
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=RESOURCES) as context:
        return sensor.evaluate_tick(context)


def settled(instance: dg.DagsterInstance) -> str | None:
    """The cursor once the sensor has handed whatever it found at start-up to a run."""
    return tick(instance, None).cursor


def launch(instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Run what the sensor asked for, in the instance, as the daemon would."""
    return defs.resolve_job_def(request.job_name).execute_in_process(
        instance=instance,
        run_config=request.run_config,
        tags={**request.tags, "dagster/run_key": request.run_key},
    )


def run_check(instance: dg.DagsterInstance) -> Any:
    """``production_check_job`` in the instance: the one check evaluation it records."""
    result = defs.resolve_job_def("production_check_job").execute_in_process(instance=instance)
    assert result.success  # a WARN never fails the run
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation
