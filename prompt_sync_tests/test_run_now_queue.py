"""Where ``prompt-sync run-now`` hands its run: the run queue when a daemon will dequeue it,
else straight to the run launcher (a queued run with no daemon would never start)."""

from __future__ import annotations

import time

import dagster as dg
from dagster._daemon.types import DaemonHeartbeat

from prompt_sync_pipeline.components.internals import queue_without_daemon

QUEUED = {
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
    }
}


def test_a_queue_with_a_live_daemon_is_used():
    with dg.instance_for_test(overrides=QUEUED) as instance:
        assert queue_without_daemon(instance)  # nobody heartbeats yet
        instance.add_daemon_heartbeat(
            DaemonHeartbeat(time.time(), "QUEUED_RUN_COORDINATOR", "daemon-1", None)
        )
        assert not queue_without_daemon(instance)


def test_a_stale_daemon_does_not_count():
    with dg.instance_for_test(overrides=QUEUED) as instance:
        an_hour_ago = time.time() - 3600
        instance.add_daemon_heartbeat(
            DaemonHeartbeat(an_hour_ago, "QUEUED_RUN_COORDINATOR", "daemon-1", None)
        )
        assert queue_without_daemon(instance)


def test_the_default_coordinator_launches_at_once():
    with dg.instance_for_test(
        overrides={
            "run_coordinator": {
                "module": "dagster._core.run_coordinator",
                "class": "DefaultRunCoordinator",
            }
        }
    ) as instance:
        assert not queue_without_daemon(instance)
