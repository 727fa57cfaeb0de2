"""``prompt-sync run-now``: the day's sync through Dagster, now, recorded like a scheduled run.

The run is launched the way the webserver and the daemon launch one: the code location that
``workspace.yaml`` names is loaded in its own server process, the job of the instance whose
configuration is the one given (``--config``, else ``PROMPT_SYNC_CONFIG``) is found there, and
the run is created from it (so it belongs to that code location: it shows in the job's Runs tab
and the overview timeline, and the UI can re-execute it) and handed to the instance in
``DAGSTER_HOME``. It carries the schedule's run key and tags for today, and the command waits for
it to finish. When it fails, the command prints what the run's failed steps said, whole: the
message the UI shows.

The code server starts with ``PROMPT_SYNC_CONFIG`` set to the configuration given, so this
repository's own instance (``defs/forseti``, which reads that variable) syncs that file.

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

from .components import internals, run_tags
from .components.instance import SYNC_JOB, validated_config
from .errors import ExitCode, UsageError
from .sync.config import CONFIG_ENV_VAR, resolve_config_path
from .sync.report import COUNTERS

# The code location the webserver and the daemon load; its working directory is the repository.
WORKSPACE_FILE = Path(__file__).resolve().parents[1] / "workspace.yaml"
POLL_SECONDS = 0.5


class NoInstance(UsageError):
    """No instance of the code location syncs the configuration given."""


class NoDagsterHome(UsageError):
    """``run-now`` records its run in the Dagster instance that ``DAGSTER_HOME`` names."""


def launch_prompt_sync_job(
    *,
    config_path: str | os.PathLike[str] | None = None,
    as_json: bool = False,
    instance: dg.DagsterInstance | None = None,
) -> int:
    """Run the instance's sync job once; 0 when the run succeeded, 1 when it failed."""
    path = resolve_config_path(config_path).resolve()
    # What the code location checks when it loads, checked here first: one line, exit 2.
    config = validated_config(path)
    if instance is None and not os.environ.get("DAGSTER_HOME"):
        raise NoDagsterHome(
            "set DAGSTER_HOME to the Dagster instance directory (the one the webserver and "
            "daemon use) so the run is recorded there"
        )
    day = run_tags.today(config.schedule_timezone)
    # The terminal gets the counters and, on failure, the failed steps' messages (printed below,
    # once); the instance's event log still records every event, for the UI.
    run_config: dict[str, Any] = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    owned = instance is None
    instance = instance or dg.DagsterInstance.get()
    try:
        job, run = run_in_code_location(
            instance, path, run_config, day, workspace_file=WORKSPACE_FILE
        )
        tags = dict(run.tags)
        failures = internals.step_failures(instance, run.run_id)
    finally:
        if owned:
            instance.dispose()
    success = run.status == dg.DagsterRunStatus.SUCCESS
    counters = {name: int(tags.get(run_tags.PREFIX + name, "0") or 0) for name in COUNTERS}
    outcome: dict[str, Any] = {
        "job": job,
        "run_id": run.run_id,
        "status": run.status.value,
        "run_key": tags.get(run_tags.RUN_KEY_TAG),
        "success_key": tags.get(run_tags.SUCCESS_KEY_TAG),
        **counters,
    }
    if as_json:
        outcome["failures"] = [{"step": step, "message": text} for step, text in failures]
        print(json.dumps(outcome, indent=2, ensure_ascii=False))
    else:
        print(f"{job} run {run.run_id}: {outcome['status']}")
        print(" ".join(f"{name}={value}" for name, value in counters.items()))
        if outcome["success_key"]:
            print(f"success key: {outcome['success_key']}")
    if not success and not as_json:
        for step, text in failures:
            print(f"prompt-sync: step {step} failed:\n{text}", file=sys.stderr)
        if not failures:
            print(
                "prompt-sync: the run failed: see its event log in the Dagster UI", file=sys.stderr
            )
    return ExitCode.OK if success else ExitCode.FAILED


def run_in_code_location(
    instance: dg.DagsterInstance,
    config_path: Path,
    run_config: dict[str, Any],
    day: Any,
    *,
    workspace_file: Path,
) -> tuple[str, dg.DagsterRun]:
    """Launch the sync job of the instance that syncs ``config_path``, from the workspace's code
    location, and wait for it. The code location's server runs the run in a process of its own:
    it stays up until the run has finished."""
    with (
        _stdout_to_stderr(),
        _environment(CONFIG_ENV_VAR, str(config_path)),
        internals.code_location_jobs(instance, workspace_file) as (jobs, launch),
    ):
        job = sync_job_for(jobs, config_path)
        name = job.tags[run_tags.INSTANCE_TAG]
        tags = {
            **run_tags.day_tags(day, trigger="run-now"),
            run_tags.RUN_KEY_TAG: run_tags.run_key(name, day),
        }
        run_id = launch(job.name, run_config, tags)
        return job.name, wait_for_run(instance, run_id)


def sync_job_for(jobs: list[internals.RemoteJob], config_path: Path) -> internals.RemoteJob:
    """The sync job of the instance whose configuration is ``config_path``."""
    syncs = [j for j in jobs if j.name.endswith(f"_{SYNC_JOB}") and run_tags.CONFIG_TAG in j.tags]
    for job in syncs:
        if Path(job.tags[run_tags.CONFIG_TAG]) == config_path:
            return job
    known = "; ".join(f"{j.name} syncs {j.tags[run_tags.CONFIG_TAG]}" for j in syncs) or "none"
    raise NoInstance(
        f"no prompt-sync instance of the code location in {WORKSPACE_FILE.name} syncs "
        f"{config_path} (instances: {known})"
    )


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``name=value`` for the code server this process starts (it inherits the environment)."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


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


def wait_for_run(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    while True:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise RuntimeError(f"run {run_id} vanished from the Dagster instance")
        if run.is_finished:
            return run
        time.sleep(POLL_SECONDS)
