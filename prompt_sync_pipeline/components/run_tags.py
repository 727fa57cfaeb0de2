"""What a sync run says about itself in Dagster's run list: its instance, day, run key, counters,
success key.

Dagster OSS has no run-level metadata, so the run's counters are run tags (strings), written by
each asset as it finishes; the runs list shows them and ``RunsFilter(tags=...)`` finds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from prompt_sync_pipeline.sync.report import SyncReport

from .instance import Instance

TASK = "task_prompt_sync"
PREFIX = "prompt_sync/"
DAY_TAG = PREFIX + "day"  # YYYYMMDD: the day the run syncs for (the scheduled day)
TRIGGER_TAG = PREFIX + "trigger"  # schedule | run-now
DRY_RUN_TAG = PREFIX + "dry_run"
SUCCESS_KEY_TAG = PREFIX + "success_key"
INSTANCE_TAG = PREFIX + "instance"  # the instance (charter) the run syncs
CONFIG_TAG = PREFIX + "config"  # that instance's prompt_sync.yaml
COMMIT_TAG = PREFIX + "commit"  # the git commit that delivered the run's pull (git: deliver)
RUN_KEY_TAG = "dagster/run_key"  # what the scheduler itself sets for a RunRequest's run_key
SCHEDULED_EXECUTION_TIME_TAG = ".dagster/scheduled_execution_time"


def run_key(instance: str, day: date) -> str:
    """One scheduled run per instance and day: ``task_prompt_sync:<instance>:YYYYMMDD``."""
    return f"{TASK}:{instance}:{day:%Y%m%d}"


def success_key(instance: str, day: date) -> str:
    return f"success:{run_key(instance, day)}"


def job_tags(instance: Instance) -> dict[str, str]:
    """On every job of the instance, and so on each of its runs: which charter it syncs."""
    return {**instance.tags, INSTANCE_TAG: instance.name, CONFIG_TAG: str(instance.config_path)}


def day_tags(day: date, trigger: str) -> dict[str, str]:
    """The tags that make a run the day's sync, whoever launched it."""
    return {DAY_TAG: f"{day:%Y%m%d}", TRIGGER_TAG: trigger}


def counter_tags(counters: Mapping[str, int]) -> dict[str, str]:
    return {PREFIX + name: str(value) for name, value in counters.items()}


def counters_of_steps_run(report: SyncReport) -> dict[str, int]:
    """The run's counters, only for the steps (pull, individual, composite) that ran."""
    ran = {action.step for action in report.actions}
    # Each counter is named after its step: pull_changed, individual_failed, composite_synced.
    return {name: n for name, n in report.counters.items() if name.partition("_")[0] in ran}


def today(timezone: str, now: datetime | None = None) -> date:
    """The current day where the team's midnight is."""
    return (now or datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone)).date()


def run_day(tags: Mapping[str, str], start_time: float | None, timezone: str) -> date:
    """The day a run syncs for: the scheduled day if it has one, else its start day in the zone."""
    if DAY_TAG in tags:
        return datetime.strptime(tags[DAY_TAG], "%Y%m%d").date()
    if SCHEDULED_EXECUTION_TIME_TAG in tags:
        return today(timezone, datetime.fromisoformat(tags[SCHEDULED_EXECUTION_TIME_TAG]))
    started = datetime.fromtimestamp(start_time, ZoneInfo(timezone)) if start_time else None
    return today(timezone, started)
