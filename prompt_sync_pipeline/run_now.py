"""``prompt-sync run-now``: the day's sync through Dagster, now, recorded like a scheduled run.

The run is launched the way the webserver and the daemon launch one: the job is loaded from the
code location that ``workspace.yaml`` names, the run is created from it (so it belongs to that
code location: it shows in the job's Runs tab and the overview timeline, and the UI can re-execute
it) and handed to the instance in ``DAGSTER_HOME``. It carries the schedule's run key and tags for
today, and the command waits for it to finish.

Who starts it: with a ``QueuedRunCoordinator`` (``docs/dagster.yaml``) and a live daemon, the run
is submitted to the queue, so "one sync at a time" holds. Without a live daemon nobody would ever
dequeue it, so the run is launched directly through the instance's run launcher, as the UI does
with the default coordinator: run-now works on a laptop and in the demo without a daemon.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from .defs import run_tags
from .defs.schedules import JOB_NAME
from .errors import ExitCode
from .sync.config import load_config
from .sync.report import COUNTERS

# The code location the webserver and the daemon load; its working directory is the repository.
WORKSPACE_FILE = Path(__file__).resolve().parents[1] / "workspace.yaml"
POLL_SECONDS = 0.5


def launch_prompt_sync_job(
    *,
    config_path: str | os.PathLike[str] | None = None,
    as_json: bool = False,
    instance: dg.DagsterInstance | None = None,
) -> int:
    """Run ``prompt_sync_job`` once; 0 when the run succeeded, 1 when it failed."""
    config = load_config(config_path)
    if instance is None and not os.environ.get("DAGSTER_HOME"):
        print(
            "prompt-sync: set DAGSTER_HOME to the Dagster instance directory (the one the "
            "webserver and daemon use) so the run is recorded there",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    day = run_tags.today(config.schedule_timezone)
    tags = {
        **run_tags.day_tags(day, trigger="run-now"),
        run_tags.RUN_KEY_TAG: run_tags.run_key(day),
    }
    # The terminal gets warnings only; the instance's event log still records every event.
    run_config: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    if config_path:
        # The file named on the command line wins over PROMPT_SYNC_CONFIG, visibly in the run.
        resolved = str(Path(config_path).expanduser().resolve())
        run_config["resources"] = {"prompt_sync": {"config": {"config_path": resolved}}}
    owned = instance is None
    instance = instance or dg.DagsterInstance.get()
    try:
        run = run_in_code_location(instance, run_config, tags, workspace_file=WORKSPACE_FILE)
        run_tags_now = dict(run.tags)
    finally:
        if owned:
            instance.dispose()
    success = run.status == dg.DagsterRunStatus.SUCCESS
    counters = {name: int(run_tags_now.get(run_tags.PREFIX + name, "0") or 0) for name in COUNTERS}
    outcome = {
        "run_id": run.run_id,
        "status": run.status.value,
        "run_key": run_tags.run_key(day),
        "success_key": run_tags_now.get(run_tags.SUCCESS_KEY_TAG),
        **counters,
    }
    if as_json:
        print(json.dumps(outcome, indent=2))
    else:
        print(f"{JOB_NAME} run {run.run_id}: {outcome['status']}")
        print(" ".join(f"{name}={value}" for name, value in counters.items()))
        if outcome["success_key"]:
            print(f"success key: {outcome['success_key']}")
        else:
            print("the run failed: see its event log in the Dagster UI", file=sys.stderr)
    return ExitCode.OK if success else ExitCode.FAILED


def run_in_code_location(
    instance: dg.DagsterInstance,
    run_config: dict[str, Any],
    tags: dict[str, str],
    *,
    workspace_file: Path,
) -> dg.DagsterRun:
    """Create ``prompt_sync_job``'s run from the workspace's code location, start it, wait for it.

    The code location's server runs the run in a process of its own: it stays up until the run
    has finished.
    """
    # Dagster's own helpers for `dagster job launch`: they give the run its code location origin.
    from dagster._cli.job import _create_run
    from dagster._cli.workspace.cli_target import (
        get_code_location_from_workspace,
        get_remote_job_from_remote_repo,
        get_remote_repository_from_code_location,
    )
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    target = WorkspaceFileTarget(paths=[str(workspace_file)])
    with _stdout_to_stderr(), WorkspaceProcessContext(instance, target) as process_context:
        workspace = process_context.create_request_context()
        location = get_code_location_from_workspace(workspace, None)
        repository = get_remote_repository_from_code_location(location, None)
        job = get_remote_job_from_remote_repo(repository, JOB_NAME)
        run = _create_run(
            instance=instance,
            code_location=location,
            remote_repo=repository,
            remote_job=job,
            run_config=run_config,
            tags=tags,
            op_selection=None,
            run_id=None,
        )
        if queue_without_daemon(instance):
            instance.launch_run(run.run_id, workspace)
        else:
            instance.submit_run(run.run_id, workspace)
        return wait_for_run(instance, run.run_id)


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """The code server and the run (child processes) log to stdout: keep it for our report."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def queue_without_daemon(instance: dg.DagsterInstance) -> bool:
    """True when the instance queues runs but no live daemon would ever dequeue this one."""
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._daemon.controller import get_daemon_statuses
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )

    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return False
    daemon = QueuedRunCoordinatorDaemon.daemon_type()
    status = get_daemon_statuses(instance, [daemon], ignore_errors=True).get(daemon)
    return status is None or not status.healthy


def wait_for_run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    while True:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise RuntimeError(f"run {run_id} vanished from the Dagster instance")
        if run.is_finished:
            return run
        time.sleep(POLL_SECONDS)
