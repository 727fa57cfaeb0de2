"""Every fix-it command a run prints names the configuration the run used: each message of
``sync/messages.py`` given a run's ``Fixes``, a conflict end to end, and no fix-it command
written anywhere else in the package (where it could forget ``--config``)."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from prompt_sync_pipeline.sync import messages
from prompt_sync_pipeline.sync.decide import PartChange
from prompt_sync_pipeline.sync.messages import Fixes
from prompt_sync_pipeline.sync.state import VersionRef
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, optimize, run_cli

PACKAGE = Path(__file__).resolve().parents[1] / "prompt_sync_pipeline"
FIXES = Fixes.for_config("teams/support bot.yaml")
PREFIX = "`prompt-sync --config 'teams/support bot.yaml' sync"
V1 = VersionRef(version_id="1", version_number="v1", commit="aaaa0001")
V2 = VersionRef(version_id="2", version_number="v2", commit="bbbb0002")
CHANGE = PartChange(COMPOSITE, "user", CHARTER_TASK, "conflict", "ours", "theirs", "v2 (bbbb0002)")


@pytest.mark.parametrize(
    ("message", "fixes"),
    [
        ("conflict", messages.conflict_help(COMPOSITE, {CHARTER_TASK: [CHANGE]}, Path("c"), FIXES)),
        ("drift check", messages.drift_conflict([CHARTER_TASK], [COMPOSITE], FIXES)),
        ("write race", messages.write_race(COMPOSITE, V2, V1, "[]", "[]", Path("c"), FIXES)),
        ("malformed, not pulled", messages.not_pulled(COMPOSITE, V2, "3 messages", FIXES)),
        ("stale text prompt", messages.stale_individual(V2, {COMPOSITE: "malformed"}, FIXES)),
        ("stale, push only", messages.stale_individual(V2, {}, FIXES)),
        ("state unusable", messages.unusable_state(Path("s.json"), "broken", FIXES)),
        (
            "type switch",
            messages.type_switch_behind("v2", COMPOSITE, ["b"], ["p"], "jinja2", FIXES),
        ),
    ],
)
def test_each_message_names_the_configuration_in_its_commands(message, fixes):
    commands = re.findall(r"`(prompt-sync [^`]+)`", fixes)
    assert commands, f"{message}: no command"
    assert all(f"`{c}`".startswith(PREFIX) for c in commands), f"{message}: {fixes}"


def test_a_conflicts_commands_work_when_copied_as_printed(synced, opik_client, capsys):
    optimize(opik_client, synced, user="Opik's {{charter}} {{post}}")
    synced.edit(CHARTER_TASK, "The charter's {{charter}} {{post}}")
    code, out, _ = run_cli(capsys, synced, "sync")
    assert code == 1
    commands = re.findall(r"`(prompt-sync [^`]+)`", out)
    keep_opik = shlex.split(next(c for c in commands if "--keep-opik" in c))
    assert keep_opik[:3] == ["prompt-sync", "--config", str(synced.config_path)]
    code, out, _ = run_cli(capsys, synced, *keep_opik[3:])
    assert code == 0, out
    assert synced.template(CHARTER_TASK) == "Opik's {{charter}} {{post}}"


def test_no_module_but_messages_writes_a_fix_it_command():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "messages.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and "`prompt-sync " in node.value
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []
