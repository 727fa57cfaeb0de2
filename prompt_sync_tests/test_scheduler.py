"""The daemon fires the schedule: Dagster's own scheduler and run-queue daemon code, at a frozen
time, on the production instance (``docs/dagster.yaml``, PostgreSQL) and the workspace's code
location, running the job for real against the Opik emulator."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import dagster as dg
import pytest
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster._scheduler.scheduler import launch_scheduled_runs

from prompt_sync_pipeline.run_now import WORKSPACE_FILE, wait_for_run
from prompt_sync_pipeline.sync.report import COUNTERS
from prompt_sync_tests.forseti import make_forseti

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)


def _tick(context, at: datetime, iteration_times: dict) -> None:
    """One pass of the daemon's scheduler at ``at``, then one of its run queue."""
    with freeze_time(at):
        list(launch_scheduled_runs(context, log, at.astimezone(UTC), iteration_times))
        list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(context))


def test_the_scheduler_launches_the_midnight_run_once_a_day(
    production_home, opik_target, tmp_path, monkeypatch
):
    forseti = make_forseti(tmp_path, opik_target.project_name)
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))
    iteration_times: dict = {}

    with (
        dg.DagsterInstance.get() as instance,
        create_test_daemon_workspace_context(
            WorkspaceFileTarget(paths=[str(WORKSPACE_FILE)]), instance
        ) as context,
    ):
        # The schedule is RUNNING by default: the first pass starts tracking it.
        _tick(context, datetime(2026, 3, 4, 23, 58, tzinfo=UTC), iteration_times)
        assert instance.get_runs() == []

        _tick(context, datetime(2026, 3, 5, 0, 0, 20, tzinfo=UTC), iteration_times)
        (launched,) = instance.get_runs()
        run = wait_for_run(instance, launched.run_id)

        _tick(context, datetime(2026, 3, 5, 9, 0, tzinfo=UTC), iteration_times)
        runs_after_second_tick = instance.get_runs()

    assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
    assert run.job_name == "forseti_prompt_sync_job"
    assert run.tags["dagster/run_key"] == "task_prompt_sync:forseti:20260305"
    assert run.tags["dagster/schedule_name"] == "forseti_prompt_sync_daily"
    assert run.tags["prompt_sync/success_key"] == "success:task_prompt_sync:forseti:20260305"
    counters = {name: run.tags[f"prompt_sync/{name}"] for name in COUNTERS}
    assert counters == {
        "pull_changed": "0",
        "pull_failed": "0",
        "individual_synced": "4",
        "individual_failed": "0",
        "composite_synced": "3",
        "composite_failed": "0",
    }
    # The same day's second tick launches nothing.
    assert [r.run_id for r in runs_after_second_tick] == [run.run_id]
