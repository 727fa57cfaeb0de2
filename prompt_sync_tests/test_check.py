"""``prompt-sync check``: the configuration, the charter and the state file checked before
midnight, every problem listed in words a person reads, offline; ``--online`` asks Opik too."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from prompt_sync_pipeline.sync.check import check_offline
from prompt_sync_tests.forseti import PERSONA, Forseti, run_cli


def test_a_valid_example_checks_clean_offline(synced, opik_target, capsys):
    opik_target.clear_requests()

    code, out, err = run_cli(capsys, synced, "check")

    assert code == 0 and err == ""
    assert "charter: " in out and "4 prompts, 3 composites" in out
    assert "no problem found (offline)" in out
    assert opik_target.requests() == []  # offline means offline


def test_every_problem_is_listed_not_just_the_first(forseti, opik_target, capsys):
    raw = yaml.safe_load(forseti.config_path.read_text())
    raw["opik"]["project_nme"] = raw["opik"].pop("project_name")
    raw["opik"]["timeout_seconds"] = 0
    raw["first_contact"] = "maybe"
    raw["schedule_timezone"] = "Mars/Olympus"
    raw["composites"]["forseti-persona-charter"]["system_prompt"] = "forseti.persna"
    forseti.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    charter = forseti.charter()
    charter["forseti.wording_correction"]["colour"] = "red"
    charter["forseti.category_classification"]["template"] = ""
    forseti.charter_path.write_text(json.dumps(charter, indent=2))

    code, out, err = run_cli(capsys, forseti, "check")

    assert code == 2 and out == ""
    config, charter_file = str(forseti.config_path), str(forseti.charter_path)
    assert err.splitlines() == [
        "prompt-sync: 7 problems found (nothing was changed):",
        f"  {config}: opik.project_name: missing (required)",
        f"  {config}: opik.timeout_seconds: must be greater than 0 (it is 0)",
        f"  {config}: opik.project_nme: unknown key (did you mean 'project_name'?)",
        f"  {config}: first_contact: must be 'conflict', 'charter' or 'opik' (it is 'maybe')",
        f"  {config}: schedule_timezone: unknown time zone 'Mars/Olympus'; use an IANA name "
        "such as UTC or Europe/Paris",
        f"  {charter_file}: prompt 'forseti.category_classification': template: must not be empty",
        f"  {charter_file}: prompt 'forseti.wording_correction': colour: unknown key; the keys "
        "here: template, type, description",
    ]
    assert "Value error" not in err and "Field required" not in err
    assert opik_target.requests() == []


def test_a_mistyped_prompt_name_gets_a_suggestion(forseti, capsys):
    raw = yaml.safe_load(forseti.config_path.read_text())
    raw["composites"]["forseti-persona-charter"]["system_prompt"] = "forseti.persna"
    forseti.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    code, _, err = run_cli(capsys, forseti, "check", "--json")

    assert code == 2
    expected = (
        "composites.forseti-persona-charter.system_prompt: 'forseti.persna' is not a prompt of "
        "the charter forseti_charter.json (did you mean 'forseti.persona'?)"
    )
    assert f"  {forseti.config_path}: {expected}" in err.splitlines()
    # A run says the same, at once: exit 2 before any request.
    code, _, err = run_cli(capsys, forseti, "sync")
    assert code == 2 and expected in err


def test_an_empty_composite_table_is_said_in_words(forseti, capsys):
    raw = yaml.safe_load(forseti.config_path.read_text())
    raw["composites"] = {}
    forseti.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    code, out, err = run_cli(capsys, forseti, "check", "--json")

    assert code == 2
    problems = json.loads(out)["problems"]
    assert problems == [
        {
            "where": str(forseti.config_path),
            "message": "composites: must not be empty: give at least one entry",
        }
    ]
    assert "Dictionary should have" not in err


@pytest.mark.parametrize("command", ["check", "sync"])
def test_a_key_twice_in_the_yaml_is_refused(forseti, opik_target, capsys, command):
    text = forseti.config_path.read_text()
    forseti.config_path.write_text(text + "first_contact: opik\n")

    code, _, err = run_cli(capsys, forseti, command)

    assert code == 2
    assert f"{forseti.config_path}: the key 'first_contact' appears more than once (line " in err
    assert "keep one copy" in err
    assert opik_target.requests() == []


def test_invalid_yaml_names_the_file_and_the_place(forseti, capsys):
    forseti.config_path.write_text("charter: forseti_charter.json\nopik: [project_name\n")

    code, _, err = run_cli(capsys, forseti, "sync")

    assert code == 2
    assert err.startswith(f"prompt-sync: {forseti.config_path}: not valid YAML (line 3, column 1: ")
    assert "<unicode string>" not in err


def test_a_state_file_with_conflict_markers_is_listed_with_its_fix(synced, capsys):
    state = synced.config.state_path
    state.write_text("<<<<<<< ours\n" + state.read_text() + "=======\n>>>>>>> theirs\n")

    code, _, err = run_cli(capsys, synced, "check")

    assert code == 2
    assert f"  {state}: the sync state has git conflict markers" in err
    assert f"`prompt-sync --config {synced.config_path} sync --rebuild-state`" in err


def test_a_url_that_is_not_one_is_a_problem_offline(forseti, capsys, monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "localhost:5173")

    code, _, err = run_cli(capsys, forseti, "check")

    assert code == 2
    assert "  environment: OPIK_URL_OVERRIDE is 'localhost:5173', not a URL (" in err


def test_online_asks_opik_for_access_and_the_project(synced, opik_target, capsys):
    code, out, _ = run_cli(capsys, synced, "check", "--online", "--json")

    assert code == 0
    online = json.loads(out)["online"]
    assert online == {
        "url": opik_target.url,
        "workspace": opik_target.workspace,
        "project_exists": True,
        "prompts_in_opik": 7,
        "prompts_managed": 7,
    }


def test_online_before_the_first_sync_says_the_project_is_new(forseti, opik_target, capsys):
    code, out, _ = run_cli(capsys, forseti, "check", "--online")

    assert code == 0
    assert "the project doesn't exist in workspace" in out and "the first sync creates it" in out


def test_online_with_opik_away_is_exit_1(forseti, capsys, monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://127.0.0.1:9/api")

    code, out, err = run_cli(capsys, forseti, "check", "--online", "--json")

    assert code == 1
    assert "  Opik: Opik at http://127.0.0.1:9/api is unreachable" in err
    assert json.loads(out)["exit_code"] == 1


def test_online_finds_a_state_file_of_another_workspace(synced, opik_target, capsys, monkeypatch):
    monkeypatch.setenv("OPIK_WORKSPACE", "someone-else")

    code, _, err = run_cli(capsys, synced, "check", "--online")

    assert code == 2
    assert "the sync state belongs to Opik workspace" in err and "'someone-else'" in err


def test_the_check_is_plain_python_the_code_location_can_call(forseti):
    checked = check_offline(forseti.config_path, environ={})
    assert checked.ok and checked.config is not None and PERSONA in checked.charter.prompts

    forseti.config_path.write_text(forseti.config_path.read_text().replace("UTC", "Mars/X"))
    problems = check_offline(forseti.config_path, environ={}).problems
    assert [p.message for p in problems] == [
        "schedule_timezone: unknown time zone 'Mars/X'; use an IANA name such as UTC or "
        "Europe/Paris"
    ]


# -- start-up: commands that don't talk to Opik or Dagster don't load them ------------------------


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], ["check"], ["sync", "--help"], ["check", "--json"]],
    ids=" ".join,
)
def test_commands_that_dont_talk_to_opik_import_neither_the_sdk_nor_dagster(forseti, argv):
    probe = (
        "import sys\n"
        "from prompt_sync_pipeline.cli import main\n"
        f"code = main({['--config', str(forseti.config_path), *argv]!r})\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'opik', 'dagster', 'httpx'})\n"
        "print('HEAVY', heavy, 'EXIT', code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "OPIK_URL_OVERRIDE": "http://127.0.0.1:9/api"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.stdout.splitlines()[-1] == "HEAVY [] EXIT 0", done.stderr


def test_a_sync_imports_the_sdk_but_not_dagster(synced, opik_target):
    probe = (
        "import sys\n"
        "from prompt_sync_pipeline.cli import main\n"
        f"code = main(['--config', {str(synced.config_path)!r}, 'plan'])\n"
        "print('HEAVY', sorted({m.split('.')[0] for m in sys.modules} & {'opik', 'dagster'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, **opik_target.env},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.stdout.splitlines()[-1] == "HEAVY ['opik']", done.stderr


def test_checking_a_forseti_copy_needs_no_write_access(forseti: Forseti):
    before = sorted(p.name for p in forseti.charter_path.parent.iterdir())
    assert check_offline(forseti.config_path, environ={}).ok
    assert sorted(p.name for p in forseti.charter_path.parent.iterdir()) == before
