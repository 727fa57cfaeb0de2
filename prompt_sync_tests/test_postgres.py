"""Production storage: the job on ``docs/dagster.yaml`` against a real PostgreSQL, and the UI on it.

``prompt-sync run-now`` launches through the code location (no daemon: it launches directly), the
run, its tags, its materializations and its check results land in PostgreSQL (read back with
SQL), and the webserver on the same instance lists the run in the job's Runs tab and
re-executes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from prompt_sync_tests.forseti import make_forseti
from prompt_sync_tests.services import ProductionHome
from prompt_sync_tests.webserver import (
    REPO,
    job_run_ids,
    reexecute,
    run_origin,
    running_webserver,
)

pytestmark = pytest.mark.slow

ASSETS = [
    f"forseti/{name}"
    for name in (
        "local_individual_prompts",
        "opik_composites",
        "pushed_composites",
        "pushed_individuals",
    )
]


def test_run_now_on_postgres_is_stored_there_and_listed_in_the_jobs_runs_tab(
    production_home: ProductionHome, opik_target, tmp_path: Path
):
    forseti = make_forseti(tmp_path, opik_target.project_name)
    env = {
        **os.environ,
        **opik_target.env,
        **production_home.env,
        "PROMPT_SYNC_CONFIG": str(forseti.config_path),
    }

    completed = subprocess.run(
        [sys.executable, "-m", "prompt_sync_pipeline", "--json", "run-now"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr[-4000:]
    printed = json.loads(completed.stdout)
    run_id = printed["run_id"]
    day = datetime.now(UTC).strftime("%Y%m%d")

    engine = sa.create_engine(production_home.postgres.url)
    try:
        with engine.connect() as db:
            (status, job) = db.execute(
                sa.text("SELECT status, pipeline_name FROM runs WHERE run_id = :id"), {"id": run_id}
            ).one()
            tags = dict(
                db.execute(
                    sa.text("SELECT key, value FROM run_tags WHERE run_id = :id"), {"id": run_id}
                ).all()
            )
            materialized = db.execute(
                sa.text(
                    "SELECT asset_key FROM event_logs WHERE run_id = :id "
                    "AND dagster_event_type = 'ASSET_MATERIALIZATION' ORDER BY asset_key"
                ),
                {"id": run_id},
            ).scalars()
            materialized_assets = ["/".join(json.loads(key)) for key in materialized]
            checks = dict(
                db.execute(
                    sa.text(
                        "SELECT check_name, execution_status FROM asset_check_executions "
                        "WHERE run_id = :id"
                    ),
                    {"id": run_id},
                ).all()
            )
    finally:
        engine.dispose()

    assert (status, job) == ("SUCCESS", "forseti_prompt_sync_job")
    assert tags["dagster/run_key"] == f"task_prompt_sync:forseti:{day}"
    assert tags["prompt_sync/success_key"] == f"success:task_prompt_sync:forseti:{day}"
    assert tags["prompt_sync/individual_synced"] == "4"
    assert tags["prompt_sync/composite_synced"] == "3"
    assert tags["prompt_sync/pull_failed"] == "0"
    # Created from the code location: the UI's Runs tab filters on this tag.
    assert tags[".dagster/repository"] == "__repository__@prompt_sync_pipeline"
    assert materialized_assets == ASSETS
    assert checks == {"persona_drift": "SUCCEEDED", "composites_match_charter": "SUCCEEDED"}
    # The compute logs went where docs/dagster.yaml says.
    assert any(Path(production_home.env["DAGSTER_COMPUTE_LOG_DIR"]).rglob("*"))

    with running_webserver(env, tmp_path / "webserver.log") as url:
        assert run_id in job_run_ids(url, "forseti_prompt_sync_job")
        assert run_origin(url, run_id) == {
            "repositoryLocationName": "prompt_sync_pipeline",
            "repositoryName": "__repository__",
        }
        # Re-execute from the UI: accepted, a new run of the same root (queued: no daemon here).
        again = reexecute(url, run_id)
        assert again["__typename"] == "LaunchRunSuccess", again
        assert again["run"]["rootRunId"] == run_id
