"""The prompt-sync command line: exit codes, JSON output, the plan, and the seed task's spellings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from prompt_sync_pipeline.cli import main
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, PERSONA

COUNTERS = {
    "pull_changed",
    "pull_failed",
    "individual_synced",
    "individual_failed",
    "composite_synced",
    "composite_failed",
}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_sync_json_has_the_six_counters_at_the_top_and_exit_0(forseti, capsys):
    code, out, _ = run(capsys, "--config", str(forseti.config_path), "sync", "--json")

    assert code == 0
    result = json.loads(out)
    assert result.keys() >= COUNTERS
    assert result["individual_synced"] == 4 and result["composite_synced"] == 3
    assert result["breakdown"]["individual"] == {"created": 4}
    assert {a["subject"] for a in result["actions"] if a["step"] == "composite"} >= {COMPOSITE}


def test_conflict_exits_1_and_explains_the_resolution(forseti, opik_client, capsys):
    assert run(capsys, "--config", str(forseti.config_path), "sync")[0] == 0
    opik_client.create_chat_prompt(
        name=COMPOSITE,
        messages=forseti.messages(user="Opik's {{charter}} {{post}}"),
        project_name=forseti.config.opik.project_name,
    )
    forseti.edit(CHARTER_TASK, "Charter's {{charter}} {{post}}")

    code, out, _ = run(capsys, "--config", str(forseti.config_path), "sync")

    assert code == 1
    assert "conflict" in out and "--keep-opik forseti.charter_validation" in out
    assert "pull_failed=1" in out


def test_plan_prints_diffs_and_changes_nothing(forseti, opik_target, capsys):
    code, out, _ = run(capsys, "--config", str(forseti.config_path), "plan")

    assert code == 0
    assert "(dry run)" in out
    assert f"+++ {PERSONA} (after)" in out
    assert [r for r in opik_target.requests() if r.path.endswith("/prompts/versions")] == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing-config", "configuration file not found"),
        ("bad-key", "opik.project_nme"),
        ("broken-charter", "not valid JSON"),
    ],
)
def test_bad_configuration_or_charter_exits_2_without_touching_opik(
    forseti, opik_target, capsys, setup, message
):
    config = str(forseti.config_path)
    if setup == "missing-config":
        config = str(forseti.config_path.with_name("nope.yaml"))
    elif setup == "bad-key":
        forseti.config_path.write_text(
            forseti.config_path.read_text().replace("project_name", "project_nme")
        )
    else:
        forseti.charter_path.write_text("{")

    code, _, err = run(capsys, "--config", config, "sync")

    assert code == 2
    assert message in err
    assert opik_target.requests() == []


def test_config_comes_from_the_environment_variable(forseti, capsys, monkeypatch):
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))
    assert run(capsys, "push", "--json")[0] == 0
    monkeypatch.delenv("PROMPT_SYNC_CONFIG")
    code, _, err = run(capsys, "push")
    assert code == 2 and "PROMPT_SYNC_CONFIG" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


def test_seed_spellings_run_as_a_module(forseti, opik_target):
    env = {**os.environ, **opik_target.env, "PROMPT_SYNC_CONFIG": str(forseti.config_path)}

    push = subprocess.run(
        [sys.executable, "-m", "prompt_sync_pipeline", "--all", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert push.returncode == 0, push.stderr
    assert json.loads(push.stdout)["composite_synced"] == 3

    pull = subprocess.run(
        [sys.executable, "-m", "prompt_sync_pipeline", "--pull-all", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert pull.returncode == 0, pull.stderr
    result = json.loads(pull.stdout)
    assert result["pull_changed"] == 0 and result["individual_synced"] == 0
