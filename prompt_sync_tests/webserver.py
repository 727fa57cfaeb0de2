"""The real Dagster webserver (``dagster-webserver -w workspace.yaml``) for tests, and its GraphQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from prompt_sync_tests.services import free_port

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCATION = "prompt_sync_pipeline"
REPOSITORY = "__repository__"  # the name Dagster gives a Definitions object's repository

LOAD_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }
"""

JOB_RUNS = """
query JobRuns($location: String!, $repository: String!, $job: String!) {
  pipelineOrError(params: {repositoryLocationName: $location, repositoryName: $repository,
                           pipelineName: $job}) {
    __typename
    ... on Pipeline { runs { runId status } }
  }
}
"""

RUN_ORIGIN = """
query RunOrigin($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { repositoryOrigin { repositoryLocationName repositoryName } }
  }
}
"""

REEXECUTE = """
mutation ReExecute($runId: String!) {
  launchPipelineReexecution(reexecutionParams: {parentRunId: $runId, strategy: ALL_STEPS}) {
    __typename
    ... on LaunchRunSuccess { run { runId rootRunId } }
    ... on PythonError { message }
  }
}
"""


@contextmanager
def running_webserver(
    env: Mapping[str, str], log_path: Path, *, dg_dev: bool = False, project: Path = REPO
) -> Iterator[str]:
    """The webserver on a free loopback port, in exactly ``env`` (with its ``DAGSTER_HOME``); its
    base URL. With ``dg_dev``, ``dg dev`` (the webserver and a daemon, from ``[tool.dg]``) in
    ``project`` (this repository by default).

    Returns once the code location has loaded.
    """
    port = free_port()
    if dg_dev:
        # dg checks that the project's virtualenv is the active one.
        env = {**env, "VIRTUAL_ENV": str(BIN.parent)}
        command = [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [
            str(BIN / "dagster-webserver"),
            *("-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)),
        ]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=project,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_loaded(url)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def graphql(url: str, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql", json={"query": query, "variables": dict(variables or {})}, timeout=30
    )
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def wait_until_loaded(url: str, timeout: float = 120) -> None:
    """Poll until the code location has loaded (the webserver loads it in the background)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = graphql(url, LOAD_STATUS)
            entries = last["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except (httpx.TransportError, ValueError, KeyError, TypeError, AssertionError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"the code location did not load in {timeout}s: {last}")


def job_run_ids(url: str, job: str) -> list[str]:
    """The runs the job's Runs tab lists (runs of this job from this code location)."""
    data = graphql(url, JOB_RUNS, {"location": LOCATION, "repository": REPOSITORY, "job": job})
    result = data["pipelineOrError"]
    assert result["__typename"] == "Pipeline", result
    return [run["runId"] for run in result["runs"]]


def run_origin(url: str, run_id: str) -> dict[str, str]:
    """The code location and repository the UI attributes a run to."""
    result = graphql(url, RUN_ORIGIN, {"runId": run_id})["runOrError"]
    assert result["__typename"] == "Run", result
    return result["repositoryOrigin"]


def reexecute(url: str, run_id: str) -> dict[str, Any]:
    """What the UI's "Re-execute all" does; the mutation's answer."""
    return graphql(url, REEXECUTE, {"runId": run_id})["launchPipelineReexecution"]
