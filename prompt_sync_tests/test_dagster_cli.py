"""The job launched from command lines, as separate processes on a temporary ``DAGSTER_HOME``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml

from prompt_sync_tests.dagster_helpers import SYNC_JOB, counter_tags, run_tags
from prompt_sync_tests.forseti import make_forseti

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODULE = "prompt_sync_pipeline.definitions"


@pytest.fixture
def environment(tmp_path: Path, opik_target) -> dict[str, str]:
    """The forseti example on this test's Opik project, and an empty Dagster instance."""
    forseti = make_forseti(tmp_path, opik_target.project_name)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {
        **os.environ,
        **opik_target.env,
        "PROMPT_SYNC_CONFIG": str(forseti.config_path),
        "DAGSTER_HOME": str(home),
    }


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _runs(home: str) -> list[dg.DagsterRun]:
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": home}), dg.DagsterInstance.get() as instance:
        return list(instance.get_runs())


def test_dagster_job_execute(environment: dict[str, str]):
    completed = _run(
        [str(BIN / "dagster"), "job", "execute", "-j", SYNC_JOB, "-m", MODULE],
        environment,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (run,) = _runs(environment["DAGSTER_HOME"])
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert counter_tags(dict(run.tags))["individual_synced"] == 4
    assert counter_tags(dict(run.tags))["composite_synced"] == 3


def test_prompt_sync_run_now_is_recorded_like_a_scheduled_run(environment: dict[str, str]):
    completed = _run(
        [sys.executable, "-m", "prompt_sync_pipeline", "--json", "run-now"], environment
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    printed = json.loads(completed.stdout)
    day = datetime.now(UTC).strftime("%Y%m%d")
    assert printed["status"] == "SUCCESS"
    assert printed["job"] == SYNC_JOB
    assert printed["run_key"] == f"task_prompt_sync:forseti:{day}"
    assert printed["composite_synced"] == 3

    (run,) = _runs(environment["DAGSTER_HOME"])
    assert run.job_name == SYNC_JOB
    assert run.run_id == printed["run_id"]
    assert run.tags["dagster/run_key"] == f"task_prompt_sync:forseti:{day}"
    assert run.tags["prompt_sync/trigger"] == "run-now"
    assert run.tags["prompt_sync/instance"] == "forseti"
    assert run.tags["prompt_sync/success_key"] == f"success:task_prompt_sync:forseti:{day}"


def test_run_now_refuses_what_the_code_location_would_refuse_in_one_line(
    environment: dict[str, str], tmp_path: Path
):
    config = Path(environment["PROMPT_SYNC_CONFIG"])
    raw = yaml.safe_load(config.read_text())
    raw["composites"]["x"] = {"system_prompt": "forseti.persona", "user_prompt": "nope"}
    config.write_text(yaml.safe_dump(raw))

    completed = _run([sys.executable, "-m", "prompt_sync_pipeline", "run-now"], environment)

    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[0] == (
        f"prompt-sync: {config}: composites.x.user_prompt: 'nope' is not a prompt of the "
        "charter forseti_charter.json"
    )
    assert "Traceback" not in completed.stderr
    assert _runs(environment["DAGSTER_HOME"]) == []


def test_run_now_without_dagster_home_says_so(environment: dict[str, str]):
    env = {k: v for k, v in environment.items() if k != "DAGSTER_HOME"}
    completed = _run([sys.executable, "-m", "prompt_sync_pipeline", "run-now"], env)
    assert completed.returncode == 2
    assert "DAGSTER_HOME" in completed.stderr


def test_run_now_in_process_exit_status(environment: dict[str, str], monkeypatch, capsys):
    """The failure path, without a subprocess: Opik unreachable fails the run, exit status 1."""
    from prompt_sync_pipeline.run_now import launch_prompt_sync_job

    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://127.0.0.1:9/api")  # nothing listens there
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", environment["PROMPT_SYNC_CONFIG"])
    with dg.instance_for_test() as instance:
        status = launch_prompt_sync_job(instance=instance)
        (run,) = instance.get_runs()
        tags = run_tags(instance, run.run_id)
    assert status == 1
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert "prompt_sync/success_key" not in tags
    assert "FAILURE" in capsys.readouterr().out
