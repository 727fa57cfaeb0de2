"""The prompt-sync command line: exit codes, JSON output, the plan, and the seed task's spellings."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from prompt_sync_pipeline.cli import main
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, PERSONA, optimize, run_main

COUNTERS = {
    "pull_changed",
    "pull_failed",
    "individual_synced",
    "individual_failed",
    "composite_synced",
    "composite_failed",
}


def test_sync_json_has_the_six_counters_at_the_top_and_exit_0(forseti, capsys):
    code, out, _ = run_main(capsys, "--config", str(forseti.config_path), "sync", "--json")

    assert code == 0
    result = json.loads(out)
    assert result.keys() >= COUNTERS
    assert result["individual_synced"] == 4 and result["composite_synced"] == 3
    assert result["breakdown"]["individual"] == {"created": 4}
    assert {a["subject"] for a in result["actions"] if a["step"] == "composite"} >= {COMPOSITE}


def test_conflict_exits_1_and_explains_the_resolution(forseti, opik_client, capsys):
    assert run_main(capsys, "--config", str(forseti.config_path), "sync")[0] == 0
    opik_client.create_chat_prompt(
        name=COMPOSITE,
        messages=forseti.messages(user="Opik's {{charter}} {{post}}"),
        project_name=forseti.config.opik.project_name,
    )
    forseti.edit(CHARTER_TASK, "Charter's {{charter}} {{post}}")

    code, out, _ = run_main(capsys, "--config", str(forseti.config_path), "sync")

    assert code == 1
    assert "conflict" in out and "--keep-opik forseti.charter_validation" in out
    assert "pull_failed=1" in out


def test_plan_prints_diffs_and_changes_nothing(forseti, opik_target, capsys):
    code, out, _ = run_main(capsys, "--config", str(forseti.config_path), "plan")

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

    code, _, err = run_main(capsys, "--config", config, "sync")

    assert code == 2
    assert message in err
    assert opik_target.requests() == []


def test_config_comes_from_the_environment_variable(forseti, capsys, monkeypatch):
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(forseti.config_path))
    assert run_main(capsys, "push", "--json")[0] == 0
    monkeypatch.delenv("PROMPT_SYNC_CONFIG")
    code, _, err = run_main(capsys, "push")
    assert code == 2 and "PROMPT_SYNC_CONFIG" in err


def test_an_unknown_command_exits_2_naming_the_commands(capsys):
    code, out, err = run_main(capsys, "frobnicate")

    assert code == 2 and out == ""
    assert err.startswith("prompt-sync: unknown command 'frobnicate'; commands: pull, push, sync")


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


# -- every spelling that worked keeps working ---------------------------------------------------

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "{config}", "sync", "--json"],
        ["sync", "--config", "{config}", "--json"],
        ["--json", "sync", "--config={config}"],
        ["--json", "--config", "{config}", "sync"],
    ],
    ids=["options-first", "options-after", "mixed", "both-before"],
)
def test_global_options_go_before_or_after_the_command(forseti, capsys, argv):
    code, out, _ = run_main(capsys, *(a.format(config=forseti.config_path) for a in argv))

    assert code == 0
    assert json.loads(out)["composite_synced"] == 3


def test_the_seed_spelling_of_sync_pulls_then_pushes(forseti, opik_client, capsys):
    code, out, _ = run_main(
        capsys, "--pull-all", "--all", "--json", "--config", str(forseti.config_path)
    )

    assert code == 0
    result = json.loads(out)
    assert {a["step"] for a in result["actions"]} == {"pull", "individual", "composite"}


def test_a_seed_spelling_with_a_command_is_refused(capsys):
    code, _, err = run_main(capsys, "--all", "sync")

    assert code == 2 and "--all is the seed task's spelling of a command" in err


def test_version_is_the_installed_package_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"prompt-sync {version('prompt-sync')}\n"


def test_each_command_has_its_own_help(capsys):
    for command, option in [
        ("sync", "--keep-opik"),
        ("pull", "--rebuild-state"),
        ("push", "--no-git"),
        ("promote", "--min-delta"),
        ("rollback", "--to"),
        ("performance", "--metric"),
        ("check", "--online"),
    ]:
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"Usage: prompt-sync {command} ") and option in out


def test_bash_completion_script_and_completion_of_names(forseti):
    env = {**os.environ, "_PROMPT_SYNC_COMPLETE": "bash_source"}
    script = subprocess.run(
        [str(BIN / "prompt-sync")], env=env, capture_output=True, text=True, check=False
    )
    assert script.returncode == 0, script.stderr
    assert "_prompt_sync_completion" in script.stdout and "complete " in script.stdout

    words = f"prompt-sync --config {forseti.config_path} sync --keep-opik forseti.p"
    env = {
        **os.environ,
        "_PROMPT_SYNC_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": "5",
    }
    names = subprocess.run(
        [str(BIN / "prompt-sync")], env=env, capture_output=True, text=True, check=False
    )
    assert names.returncode == 0, names.stderr
    assert "plain,forseti.persona" in names.stdout.splitlines()


# -- --json on failure: one JSON object, never empty output -------------------------------------


def _json_error(out: str, code: int) -> dict:
    error = json.loads(out)
    assert error["exit_code"] == code
    assert error["error"] and error["hint"]
    return error


@pytest.mark.parametrize(
    ("argv", "text", "hint"),
    [
        (["sync", "--josn", "--json"], "unknown option --josn", "see `prompt-sync sync --help`"),
        (["--json", "frobnicate"], "unknown command 'frobnicate'", "see `prompt-sync --help`"),
        (["--json", "--config", "nope.yaml", "sync"], "configuration file not found", "check"),
        (["--json", "sync", "--keep-opik", "nobody"], "no such prompt or composite", "names"),
    ],
)
def test_a_usage_error_with_json_is_one_json_object(forseti, capsys, argv, text, hint):
    if "--config" not in argv:
        argv = [*argv, "--config", str(forseti.config_path)]

    code, out, err = run_main(capsys, *argv)

    assert code == 2
    error = _json_error(out, 2)
    assert text in error["error"] and hint in error["hint"]
    assert err.count("\n") == 1 and text in err  # the person still gets the line on stderr


def test_opik_unavailable_with_json_is_one_json_object(forseti, capsys, monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://127.0.0.1:9/api")

    code, out, _ = run_main(capsys, "--config", str(forseti.config_path), "sync", "--json")

    assert code == 1
    error = _json_error(out, 1)
    assert "is unreachable" in error["error"] and "OPIK_URL_OVERRIDE" in error["hint"]


# -- a bug in the middle of a run is an internal error, not "nothing was changed" ----------------


@pytest.fixture
def failing_push(synced, opik_client, monkeypatch):
    """Opik optimized a composite (the pull rewrites the charter), then the composite push
    hits a bug."""
    optimize(opik_client, synced, user="Optimized {{charter}} {{post}}")

    def bug(*args, **kwargs):
        raise RuntimeError("something unexpected\non two lines")

    monkeypatch.setattr("prompt_sync_pipeline.sync.push.push_composites", bug)
    return synced


def test_a_bug_mid_run_is_an_internal_error_saying_what_was_written(failing_push, capsys):
    code, out, err = run_main(capsys, "--config", str(failing_push.config_path), "sync")

    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        "prompt-sync: internal error (a bug in prompt-sync): "
        "RuntimeError: something unexpected on two lines; before it, the run wrote "
        f"{failing_push.charter_path} (rewritten); "
    )
    assert "write request" in err and "PROMPT_SYNC_DEBUG=1" in err
    assert "nothing was changed" not in err
    assert failing_push.template(CHARTER_TASK) == "Optimized {{charter}} {{post}}"  # whole


def test_the_traceback_of_an_internal_error_is_opt_in(failing_push, capsys, monkeypatch):
    monkeypatch.setenv("PROMPT_SYNC_DEBUG", "1")

    code, out, err = run_main(capsys, "--config", str(failing_push.config_path), "sync", "--json")

    assert code == 1
    assert "Traceback (most recent call last)" in err and "RuntimeError" in err
    error = _json_error(out, 1)
    assert error["error"].startswith("internal error (a bug in prompt-sync): RuntimeError")
    assert str(failing_push.charter_path) + " (rewritten)" in error["written"]


def test_the_session_names_any_unexpected_error_as_internal(tmp_path, capsys):
    from prompt_sync_pipeline.cli.session import Session

    watched = tmp_path / "charter.json"
    watched.write_text("{}")
    session = Session()
    session.journal.watch(watched)

    def body() -> int:
        watched.write_text('{"a": 1}')  # a write before the bug
        raise KeyError("x")

    assert session.run("sync", body) == 1
    err = capsys.readouterr().err
    assert err == (
        "prompt-sync: internal error (a bug in prompt-sync): KeyError: 'x'; before it, the run "
        f"wrote {watched} (rewritten), and no file is half-written; run again with "
        "PROMPT_SYNC_DEBUG=1 for the traceback, and report it\n"
    )


def test_a_usage_error_maps_to_2_and_nothing_else_does(capsys):
    from prompt_sync_pipeline.cli.session import Session
    from prompt_sync_pipeline.errors import Refused, RunStopped, UsageError

    def raising(exc: Exception):
        def body() -> int:
            raise exc

        return body

    assert Session().run("sync", raising(UsageError("bad flag"))) == 2
    assert Session().run("sync", raising(Refused("scores too low"))) == 1
    assert Session().run("sync", raising(RunStopped("disk full"))) == 1
    assert Session().run("sync", raising(ValueError("a bug"))) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:3] == [
        "prompt-sync: bad flag",
        "prompt-sync: scores too low",
        "prompt-sync: disk full",
    ]
    assert err[3].startswith("prompt-sync: internal error")


# -- words a user knows -------------------------------------------------------------------------


def test_the_human_report_says_what_each_outcome_means(synced, opik_client, capsys):
    optimize(opik_client, synced, user="Optimized {{charter}} {{post}}")

    code, out, _ = run_main(capsys, "--config", str(synced.config_path), "plan")

    assert code == 0
    assert f"adopted       {CHARTER_TASK}" in out and "(took Opik's text into the charter)" in out
    assert "unchanged     forseti-persona-wording v1" in out
    assert "(a new version in Opik, in a real run)" in out

    code, out, _ = run_main(capsys, "--config", str(synced.config_path), "sync", "--json")
    outcomes = {a["outcome"] for a in json.loads(out)["actions"]}
    assert outcomes <= {"adopted", "unchanged", "created", "recorded_base", "kept_local"}


def test_promotes_choices_written_in_the_cli_are_the_gates():
    from prompt_sync_pipeline.cli import commands
    from prompt_sync_pipeline.promotion import gate
    from prompt_sync_pipeline.sync.config import PromotionSettings

    assert commands.GATES == gate.GATES
    assert PromotionSettings().min_items == commands.DEFAULT_MIN_ITEMS


def test_the_demos_ui_command_runs_from_the_base_install(capsys):
    from prompt_sync_pipeline.demo import DAGSTER_HOME, print_ui_instructions

    env = {"DAGSTER_HOME": str(DAGSTER_HOME), "OPIK_URL_OVERRIDE": "http://127.0.0.1:5173/api"}
    print_ui_instructions(env, 5173, kept=False)
    lines = capsys.readouterr().out.splitlines()

    command = shlex.split(
        lines[lines.index(next(x for x in lines if "Open the Dagster UI" in x)) + 1]
    )
    variables = [word for word in command if "=" in word and not word.startswith("-")]
    program, *args = command[len(variables) :]
    assert f"DAGSTER_HOME={DAGSTER_HOME}" in variables
    assert Path(program) == BIN / "dagster" and os.access(program, os.X_OK)
    assert args[:3] == ["dev", "-w", str(Path(__file__).resolve().parents[1] / "workspace.yaml")]
    # The executable is the base install's own (not `dg`, which only the dev extra installs).
    assert (
        subprocess.run([program, "dev", "--help"], capture_output=True, check=False).returncode == 0
    )
    emulator = shlex.split(lines[-1])[0]
    assert Path(emulator) == BIN / "opik-emulator" and os.access(emulator, os.X_OK)
