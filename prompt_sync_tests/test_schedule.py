"""The midnight tick: one run per day, keyed and tagged with the scheduled day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import dagster as dg

from prompt_sync_pipeline.definitions import defs
from prompt_sync_pipeline.defs import run_tags
from prompt_sync_pipeline.defs.schedules import build_daily_schedule


def test_tick_gives_the_days_run_key_and_tags():
    schedule = defs.resolve_schedule_def("prompt_sync_daily")
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 3, 5, tzinfo=UTC)
        )
        (request,) = schedule.evaluate_tick(context).run_requests

    assert request.run_key == "task_prompt_sync:20260305"
    assert request.tags["prompt_sync/day"] == "20260305"
    assert request.tags["prompt_sync/trigger"] == "schedule"
    assert request.tags["dagster/schedule_name"] == "prompt_sync_daily"
    dg.validate_run_config(defs.resolve_job_def("prompt_sync_job"), request.run_config)


def test_the_scheduled_day_is_the_day_in_the_configured_zone():
    schedule = build_daily_schedule("Europe/Paris")
    # Midnight in Paris on 5 March is 23:00 UTC on 4 March.
    tick = datetime(2026, 3, 5, tzinfo=ZoneInfo("Europe/Paris"))
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        (request,) = schedule.evaluate_tick(context).run_requests
    assert request.run_key == "task_prompt_sync:20260305"


def test_run_day_prefers_the_scheduled_day_then_the_start_day_in_the_zone():
    assert run_tags.run_day({"prompt_sync/day": "20260305"}, None, "UTC") == date(2026, 3, 5)
    scheduled = {run_tags.SCHEDULED_EXECUTION_TIME_TAG: "2026-03-04T23:00:00+00:00"}
    assert run_tags.run_day(scheduled, None, "Europe/Paris") == date(2026, 3, 5)
    started = datetime(2026, 3, 4, 23, 30, tzinfo=UTC).timestamp()
    assert run_tags.run_day({}, started, "Europe/Paris") == date(2026, 3, 5)
    assert run_tags.run_day({}, started, "UTC") == date(2026, 3, 4)
    assert run_tags.success_key(date(2026, 3, 5)) == "success:task_prompt_sync:20260305"
