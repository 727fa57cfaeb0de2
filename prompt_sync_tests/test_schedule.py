"""The midnight tick: one run per instance and day, keyed and tagged with the scheduled day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from prompt_sync_pipeline.components import run_tags
from prompt_sync_pipeline.components.instance import Instance
from prompt_sync_pipeline.components.schedules import build_daily_schedule, build_sync_job
from prompt_sync_tests.dagster_helpers import SCHEDULE, SYNC_JOB, code_location


def test_tick_gives_the_days_run_key_and_tags():
    defs = code_location()
    schedule = defs.resolve_schedule_def(SCHEDULE)
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 3, 5, tzinfo=UTC)
        ) as context,
    ):
        (request,) = schedule.evaluate_tick(context).run_requests

    assert request.run_key == "task_prompt_sync:forseti:20260305"
    assert request.tags["prompt_sync/day"] == "20260305"
    assert request.tags["prompt_sync/trigger"] == "schedule"
    assert request.tags["dagster/schedule_name"] == "forseti_prompt_sync_daily"
    dg.validate_run_config(defs.resolve_job_def(SYNC_JOB), request.run_config)


def test_the_scheduled_day_is_the_day_in_the_configured_zone():
    paris = Instance("support_bot", Path("/srv/prompt_sync.yaml"), timezone="Europe/Paris")
    schedule = build_daily_schedule(paris, build_sync_job(paris))
    # Midnight in Paris on 5 March is 23:00 UTC on 4 March.
    tick = datetime(2026, 3, 5, tzinfo=ZoneInfo("Europe/Paris"))
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context,
    ):
        (request,) = schedule.evaluate_tick(context).run_requests
    assert schedule.name == "support_bot_prompt_sync_daily"
    assert request.run_key == "task_prompt_sync:support_bot:20260305"


def test_run_day_prefers_the_scheduled_day_then_the_start_day_in_the_zone():
    assert run_tags.run_day({"prompt_sync/day": "20260305"}, None, "UTC") == date(2026, 3, 5)
    scheduled = {run_tags.SCHEDULED_EXECUTION_TIME_TAG: "2026-03-04T23:00:00+00:00"}
    assert run_tags.run_day(scheduled, None, "Europe/Paris") == date(2026, 3, 5)
    started = datetime(2026, 3, 4, 23, 30, tzinfo=UTC).timestamp()
    assert run_tags.run_day({}, started, "Europe/Paris") == date(2026, 3, 5)
    assert run_tags.run_day({}, started, "UTC") == date(2026, 3, 4)
    assert (
        run_tags.success_key("forseti", date(2026, 3, 5))
        == "success:task_prompt_sync:forseti:20260305"
    )
