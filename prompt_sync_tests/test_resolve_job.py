"""A conflict, seen where the team sees it: ``run-now`` and the UI show the message the CLI
prints, whole, fix included; the fix is the instance's resolve job with the run config to paste,
and the launchpad (the webserver's GraphQL, on the code location of ``workspace.yaml``) runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

import dagster as dg
import pytest
import yaml

from prompt_sync_tests.dagster_helpers import RESOLVE_JOB
from prompt_sync_tests.forseti import CHARTER_TASK, Forseti, make_forseti, optimize
from prompt_sync_tests.webserver import LOCATION, REPO, REPOSITORY, graphql, running_webserver

pytestmark = pytest.mark.slow

TASK_EDIT = "\nQuote the rule the post breaks."
OPIK_EDIT = "\nAnswer in one sentence."
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchPipelineExecution(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message }
  }
}
"""


@pytest.fixture
def conflicted(tmp_path: Path, opik_target, opik_client) -> Forseti:
    """The example after a first sync, then its task prompt edited in the charter and,
    otherwise, in Opik: a conflict on that prompt (used by one composite)."""
    forseti = make_forseti(tmp_path, opik_target.project_name)
    assert not forseti.sync().failed
    task = forseti.template(CHARTER_TASK)
    forseti.edit(CHARTER_TASK, task + TASK_EDIT)
    optimize(opik_client, forseti, user=task + OPIK_EDIT)
    return forseti


def _environment(tmp_path: Path, opik_target, forseti: Forseti) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    # The webserver launches a run at once (no daemon in this test).
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    return {
        **os.environ,
        **opik_target.env,
        "PROMPT_SYNC_CONFIG": str(forseti.config_path),
        "DAGSTER_HOME": str(home),
    }


def _conflict_block(text: str) -> str:
    """From "conflict on 'PROMPT'" to the charter's and Opik's texts, before the fixes."""
    start = text.index(f"conflict on {CHARTER_TASK!r}")
    return text[start : text.index("Resolve with", start)]


def test_run_now_prints_the_cli_message_and_the_launchpad_resolves_it(
    conflicted: Forseti, opik_target, tmp_path: Path, capsys
):
    from prompt_sync_pipeline.cli import main

    env = _environment(tmp_path, opik_target, conflicted)
    ran = subprocess.run(
        [sys.executable, "-m", "prompt_sync_pipeline", "run-now"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert ran.returncode == 1, ran.stderr[-3000:]
    assert "forseti_prompt_sync_job run " in ran.stdout and ": FAILURE" in ran.stdout
    printed = ran.stderr
    assert "step forseti__pushed_composites failed:" in printed
    assert "forseti_prompt_sync_job: " in printed
    assert "Traceback" not in printed
    # The CLI's message for the same conflict, whole: both texts, nothing cut off.
    assert main(["--config", str(conflicted.config_path), "plan"]) == 1
    cli = capsys.readouterr().out
    assert _conflict_block(printed) == _conflict_block(cli)
    assert f"prompt-sync --config {conflicted.config_path} sync --keep-opik {CHARTER_TASK}" in cli
    # In Dagster, the fix names the resolve job and the run config to paste.
    fix = re.search(rf"`{RESOLVE_JOB}` \(run config `(\{{keep_opik: [^`]*\}})`\)", printed)
    assert fix is not None, printed
    pasted = fix.group(1)
    assert yaml.safe_load(pasted) == {"keep_opik": [CHARTER_TASK]}

    with running_webserver(env, tmp_path / "webserver.log") as url:
        launched = graphql(
            url,
            LAUNCH,
            {
                "params": {
                    "selector": {
                        "repositoryLocationName": LOCATION,
                        "repositoryName": REPOSITORY,
                        "pipelineName": RESOLVE_JOB,
                    },
                    "runConfigData": pasted,  # the launchpad's editor takes YAML
                }
            },
        )["launchPipelineExecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run = _finished(env["DAGSTER_HOME"], launched["run"]["runId"])

    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["prompt_sync/instance"] == "forseti"
    assert conflicted.template(CHARTER_TASK).endswith(OPIK_EDIT)


def test_the_resolve_job_refuses_a_name_the_configuration_does_not_know(
    conflicted: Forseti, instance, monkeypatch: pytest.MonkeyPatch
):
    from prompt_sync_tests.dagster_helpers import run_job, step_failures

    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(conflicted.config_path))

    result = run_job(instance, job=RESOLVE_JOB, run_config={"keep_opik": ["forseti.persnoa"]})

    assert not result.success
    failure = step_failures(result)["opik_composites"]
    assert failure.startswith("--keep-opik forseti.persnoa: no such prompt or composite")
    assert "did you mean 'forseti.persona'?" in failure


def _finished(home: str, run_id: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    with mock.patch.dict(os.environ, {"DAGSTER_HOME": home}), dg.DagsterInstance.get() as instance:
        while time.monotonic() < deadline:
            run = instance.get_run_by_id(run_id)
            if run is not None and run.is_finished:
                return run
            time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout:g} s")
