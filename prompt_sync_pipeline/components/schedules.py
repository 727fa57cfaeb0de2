"""``<name>_prompt_sync_job`` (the whole sync of one instance) and ``<name>_prompt_sync_daily``
(it, at midnight every day in the instance's time zone)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import dagster as dg

from . import run_tags
from .instance import PUSHED_COMPOSITES, Instance
from .production_check import PRODUCTION_NOT_BEHIND

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition as AssetJob,
    )


def sync_selection(instance: Instance) -> dg.AssetSelection:
    """The instance's four assets with the checks inside their steps. production_not_behind is
    left out: it reads experiments, so the sync keeps its one read per composite."""
    check = dg.AssetCheckKey(instance.key(PUSHED_COMPOSITES), PRODUCTION_NOT_BEHIND)
    return dg.AssetSelection.assets(*instance.chain_keys) - dg.AssetSelection.checks(check)


def build_sync_job(instance: Instance) -> AssetJob:
    return dg.define_asset_job(
        instance.sync_job,
        selection=sync_selection(instance),
        description=f"The nightly sync of {instance.name}: pull the composites from Opik into "
        "the charter, then push the individual prompts and the composites back. Fails when any "
        "prompt failed.",
        tags=run_tags.job_tags(instance),
        # The steps share one read of Opik and one engine through the run's session: one
        # process. The chain is sequential anyway, so a multiprocess executor would only add
        # start-up time.
        executor_def=dg.in_process_executor,
    )


def build_daily_schedule(instance: Instance, job: AssetJob) -> dg.ScheduleDefinition:
    timezone = instance.timezone

    @dg.schedule(
        name=instance.schedule,
        cron_schedule=instance.cron,
        job=job,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if instance.schedule_running
        else dg.DefaultScheduleStatus.STOPPED,
        description=f"Runs {job.name} at {instance.cron} ({timezone}). The run key "
        f"task_prompt_sync:{instance.name}:YYYYMMDD makes the day's run unique.",
    )
    def daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        scheduled = context.scheduled_execution_time
        if scheduled is not None and scheduled.tzinfo is None:
            scheduled = scheduled.replace(tzinfo=ZoneInfo(timezone))
        day = run_tags.today(timezone, scheduled)
        return dg.RunRequest(
            run_key=run_tags.run_key(instance.name, day),
            tags=run_tags.day_tags(day, trigger="schedule"),
        )

    return daily
