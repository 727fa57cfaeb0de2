"""The one place that uses Dagster's private modules (``dagster._...``): what ``run-now`` needs
to launch a job the way the webserver and the daemon do, and to read why a run failed.

Dagster 1.13 is a range (``dagster>=1.13,<1.14``): a patch release that moves one of these breaks
here, loudly, in ``prompt_sync_tests/test_dagster_seam.py`` and the run-now tests, and nowhere
else. Dagster's private modules are imported inside the functions, when a run needs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from ..errors import UsageError


class CodeLocationUnloadable(UsageError):
    """The code location could not load (e.g. an instance's configuration is invalid)."""


@dataclass(frozen=True)
class RemoteJob:
    """A job as the code location serves it (name and tags), for choosing which one to launch."""

    name: str
    tags: dict[str, str]


@contextmanager
def code_location_jobs(
    instance: dg.DagsterInstance, workspace_file: Path
) -> Iterator[tuple[list[RemoteJob], Any]]:
    """The jobs of the (only) code location of ``workspace_file``, loaded in its own server
    process, and a launcher: ``launch(job_name, run_config, tags) -> run_id``."""
    from dagster._cli.job import _create_run
    from dagster._cli.workspace.cli_target import (
        get_code_location_from_workspace,
        get_remote_repository_from_code_location,
    )
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    target = WorkspaceFileTarget(paths=[str(workspace_file)])
    with WorkspaceProcessContext(instance, target) as process_context:
        workspace = process_context.create_request_context()
        for name in workspace.code_location_names:
            error = workspace.get_code_location_error(name)
            if error is not None:
                while error.cause is not None:  # the root cause: the component's own message
                    error = error.cause
                raise CodeLocationUnloadable(
                    f"the code location {name!r} of {workspace_file.name} did not load: "
                    + error.message.strip()
                )
        location = get_code_location_from_workspace(workspace, None)
        repository = get_remote_repository_from_code_location(location, None)
        jobs = [RemoteJob(job.name, dict(job.tags)) for job in repository.get_all_jobs()]

        def launch(job_name: str, run_config: dict[str, Any], tags: dict[str, str]) -> str:
            run = _create_run(
                instance=instance,
                code_location=location,
                remote_repo=repository,
                remote_job=repository.get_full_job(job_name),
                run_config=run_config,
                tags=tags,
                op_selection=None,
                run_id=None,
            )
            if queue_without_daemon(instance):
                instance.launch_run(run.run_id, workspace)
            else:
                instance.submit_run(run.run_id, workspace)
            return run.run_id

        yield jobs, launch


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


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """Each failed step of the run and its error: a ``dg.Failure``'s description, whole (the
    message the UI shows), or the exception's message."""
    failures = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        if event is None:
            continue
        data = event.step_failure_data
        user = data.user_failure_data
        text = user.description if user and user.description else ""
        if not text and data.error is not None:
            text = data.error.message.strip()
        failures.append((event.step_key or "", text))
    return failures
