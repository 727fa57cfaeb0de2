"""Smoke test: ``dagster-webserver -w workspace.yaml`` serves the code location over GraphQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

QUERY = """
{
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation {
            repositories {
              schedules {
                name
                cronSchedule
                executionTimezone
                scheduleState { status }
              }
            }
          }
        }
      }
    }
  }
  assetNodes {
    assetKey { path }
    groupName
    dependencyKeys { path }
    assetChecksOrError {
      ... on AssetChecks { checks { name blocking } }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """The webserver on a free loopback port, with an empty instance; its GraphQL URL."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    env.pop("PROMPT_SYNC_CONFIG", None)  # the code location must load without a configuration
    log = (tmp_path / "webserver.log").open("w")
    process = subprocess.Popen(
        [
            str(BIN / "dagster-webserver"),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _loaded_workspace(url: str, timeout: float = 90) -> dict[str, Any]:
    """Poll until the code location has loaded (the webserver loads it in the background)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            response = httpx.post(url, json={"query": QUERY}, timeout=10)
            last = response.json()
            (entry,) = last["data"]["workspaceOrError"]["locationEntries"]
            if entry["loadStatus"] == "LOADED":
                return last["data"]
        except (httpx.TransportError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"the code location did not load in {timeout}s: {last}")


def test_webserver_serves_assets_checks_and_schedule(webserver: str):
    data = _loaded_workspace(webserver)

    (entry,) = data["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "prompt_sync_pipeline"
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    (repository,) = location["repositories"]
    (schedule,) = repository["schedules"]
    assert schedule == {
        "name": "prompt_sync_daily",
        "cronSchedule": "0 0 * * *",
        "executionTimezone": "UTC",
        "scheduleState": {"status": "RUNNING"},
    }

    every_node = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert every_node["prompt_performance"]["groupName"] == "prompt_performance"
    nodes = {k: n for k, n in every_node.items() if n["groupName"] == "prompt_sync"}
    assert sorted(nodes) == [
        "local_individual_prompts",
        "opik_composites",
        "pushed_composites",
        "pushed_individuals",
    ]
    assert nodes["pushed_composites"]["dependencyKeys"] == [{"path": ["pushed_individuals"]}]
    checks = {
        check["name"]: check
        for node in nodes.values()
        for check in (node["assetChecksOrError"] or {}).get("checks", [])
    }
    assert sorted(checks) == ["composites_match_charter", "persona_drift", "production_not_behind"]
    assert checks["persona_drift"]["blocking"]
    assert not checks["production_not_behind"]["blocking"]
