"""``prompt-sync run-now``: the day's sync through Dagster, now, recorded like a scheduled run.

The run executes in this process against the instance in ``DAGSTER_HOME`` (the one the webserver
and the daemon use), with the schedule's run key and tags for today, so it appears in the runs
list, the asset history and the run tags exactly as the midnight run would.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from .defs import run_tags
from .defs.schedules import JOB_NAME
from .sync.config import load_config
from .sync.report import COUNTERS

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def prompt_sync_job() -> dg.JobDefinition:
    """The job, resolved from the code location (the target ``reconstructable`` re-imports)."""
    from .definitions import defs

    return defs.resolve_job_def(JOB_NAME)


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
        return EXIT_USAGE
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
        result = dg.execute_job(
            dg.reconstructable(prompt_sync_job),
            instance=instance,
            run_config=run_config,
            tags=tags,
            raise_on_error=False,
        )
        run = instance.get_run_by_id(result.run_id)
        run_tags_now = dict(run.tags) if run else {}
    finally:
        if owned:
            instance.dispose()
    counters = {name: int(run_tags_now.get(run_tags.PREFIX + name, "0") or 0) for name in COUNTERS}
    outcome = {
        "run_id": result.run_id,
        "status": "SUCCESS" if result.success else "FAILURE",
        "run_key": run_tags.run_key(day),
        "success_key": run_tags_now.get(run_tags.SUCCESS_KEY_TAG),
        **counters,
    }
    if as_json:
        print(json.dumps(outcome, indent=2))
    else:
        print(f"{JOB_NAME} run {result.run_id}: {outcome['status']}")
        print(" ".join(f"{name}={value}" for name, value in counters.items()))
        if outcome["success_key"]:
            print(f"success key: {outcome['success_key']}")
        else:
            print("the run failed: see its event log in the Dagster UI", file=sys.stderr)
    return EXIT_OK if result.success else EXIT_FAILED
