"""``prompt_sync_job`` (the whole sync) and ``prompt_sync_daily`` (it, at midnight every day)."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from prompt_sync_pipeline.sync.config import ConfigError, load_config

from . import run_tags
from .assets import GROUP
from .production_check import PRODUCTION_NOT_BEHIND

JOB_NAME = "prompt_sync_job"
SCHEDULE_NAME = "prompt_sync_daily"
DEFAULT_TIMEZONE = "UTC"

log = logging.getLogger(__name__)

prompt_sync_job = dg.define_asset_job(
    JOB_NAME,
    # Checks included: they are inside the steps. production_not_behind is not: it reads
    # experiments, so the sync keeps its one read per composite (see production_check).
    selection=dg.AssetSelection.groups(GROUP) - dg.AssetSelection.checks(PRODUCTION_NOT_BEHIND),
    description="The nightly sync: pull the composites from Opik into the charter, then push "
    "the individual prompts and the composites back. Fails when any prompt failed.",
    # The steps share one read of Opik and one engine through the run's session: one process.
    # The chain is sequential anyway, so a multiprocess executor would only add start-up time.
    executor_def=dg.in_process_executor,
)


def schedule_timezone() -> str:
    """The configured ``schedule_timezone``, read when the code location loads; UTC without it.

    Loading must work without a configuration (CI, `dagster definitions validate`, a webserver
    started before the file is deployed): the runs themselves fail clearly when it is missing.
    """
    try:
        timezone = load_config().schedule_timezone
    except (ConfigError, OSError) as exc:
        log.info("prompt_sync_daily runs at midnight %s: %s", DEFAULT_TIMEZONE, exc)
        return DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown schedule_timezone %r; prompt_sync_daily uses UTC", timezone)
        return DEFAULT_TIMEZONE
    return timezone


def build_daily_schedule(timezone: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=SCHEDULE_NAME,
        cron_schedule="0 0 * * *",
        job=prompt_sync_job,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Runs prompt_sync_job every day at midnight ({timezone}). The run key "
        "task_prompt_sync:YYYYMMDD makes the day's run unique.",
    )
    def prompt_sync_daily(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        scheduled = context.scheduled_execution_time
        if scheduled is not None and scheduled.tzinfo is None:
            scheduled = scheduled.replace(tzinfo=ZoneInfo(timezone))
        day = run_tags.today(timezone, scheduled)
        return dg.RunRequest(
            run_key=run_tags.run_key(day), tags=run_tags.day_tags(day, trigger="schedule")
        )

    return prompt_sync_daily


prompt_sync_daily = build_daily_schedule(schedule_timezone())
