"""Smoke test: ``dagster-webserver -w workspace.yaml`` serves the code location over GraphQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from prompt_sync_tests.webserver import graphql, running_webserver

pytestmark = pytest.mark.slow

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


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """The webserver on a free loopback port, with an empty instance; its base URL."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    env.pop("PROMPT_SYNC_CONFIG", None)  # the forseti instance then syncs the worked example
    with running_webserver(env, tmp_path / "webserver.log") as url:
        yield url


def test_webserver_serves_assets_checks_and_schedule(webserver: str):
    data = graphql(webserver, QUERY)

    (entry,) = data["workspaceOrError"]["locationEntries"]
    assert entry["name"] == "prompt_sync_pipeline"
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    (repository,) = location["repositories"]
    (schedule,) = repository["schedules"]
    assert schedule == {
        "name": "forseti_prompt_sync_daily",
        "cronSchedule": "0 0 * * *",
        "executionTimezone": "UTC",
        "scheduleState": {"status": "RUNNING"},
    }

    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert {n["groupName"] for n in nodes.values()} == {"forseti"}
    assert sorted(nodes) == [
        "forseti/local_individual_prompts",
        "forseti/opik_composites",
        "forseti/prompt_performance",
        "forseti/pushed_composites",
        "forseti/pushed_individuals",
    ]
    assert nodes["forseti/pushed_composites"]["dependencyKeys"] == [
        {"path": ["forseti", "pushed_individuals"]}
    ]
    checks = {
        check["name"]: check
        for node in nodes.values()
        for check in (node["assetChecksOrError"] or {}).get("checks", [])
    }
    assert sorted(checks) == ["composites_match_charter", "persona_drift", "production_not_behind"]
    assert checks["persona_drift"]["blocking"]
    assert not checks["production_not_behind"]["blocking"]
