"""The ``dg`` CLI of Dagster 1.13 on this project (``[tool.dg]`` in ``pyproject.toml``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest

from prompt_sync_tests.dagster_helpers import ASSETS
from prompt_sync_tests.forseti import make_forseti

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent


@pytest.fixture
def dg_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # dg checks that the project's .venv is the active one.
    return {**os.environ, "DAGSTER_HOME": str(home), "VIRTUAL_ENV": str(VENV)}


def _dg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV / "bin" / "dg"), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_dg_check_and_list_defs(dg_env: dict[str, str]):
    checked = _dg("check", "defs", env=dg_env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr

    listed = _dg("list", "defs", "--json", env=dg_env)
    assert listed.returncode == 0, listed.stderr
    definitions = json.loads(listed.stdout)
    keys = {asset["asset_key"] for asset in definitions["assets"]}
    assert {f"forseti/{name}" for name in ASSETS} <= keys
    assert {job["name"] for job in definitions["jobs"]} == {
        "forseti_prompt_sync_job",
        "forseti_prompt_sync_pull_job",
        "forseti_prompt_resolve_job",
        "forseti_prompt_promote_job",
        "forseti_prompt_rollback_job",
        "forseti_production_check_job",
    }
    assert [s["name"] for s in definitions["schedules"]] == ["forseti_prompt_sync_daily"]
    assert [s["name"] for s in definitions["sensors"]] == ["forseti_opik_prompt_changes"]


def test_dg_launch_runs_the_job(dg_env: dict[str, str], opik_target, tmp_path: Path):
    forseti = make_forseti(tmp_path, opik_target.project_name)
    env = {**dg_env, **opik_target.env, "PROMPT_SYNC_CONFIG": str(forseti.config_path)}

    launched = _dg("launch", "--job", "forseti_prompt_sync_job", env=env)

    assert launched.returncode == 0, launched.stderr[-3000:]
    home = {"DAGSTER_HOME": env["DAGSTER_HOME"]}
    with mock.patch.dict(os.environ, home), dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["prompt_sync/composite_synced"] == "3"
