"""A write race (another writer saves a version between this run's read and its write) is never
silent: reported with both texts, recorded in the state file, reported until resolved."""

from __future__ import annotations

import json
import threading

from prompt_sync_pipeline.cli import main
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, latest_messages

OURS = "Charter edit {{charter}} {{post}}"
THEIRS = "Other writer {{charter}} {{post}}"


def cli(forseti, capsys, *argv: str) -> tuple[int, str]:
    code = main(["--config", str(forseti.config_path), *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _race(synced, opik_client, opik_target):
    """A sync whose composite write is held open while another client saves a version."""
    synced.edit(CHARTER_TASK, OURS)
    # The run's two creates: the text prompt, then the composite; both are held a moment.
    hold = opik_target.inject(r"/prompts/versions$", "POST", hold_ms=700, times=2)
    result = {}
    run = threading.Thread(target=lambda: result.update(report=synced.sync()))
    run.start()
    opik_target.wait_until(lambda: hold.hits == 2, "the composite write")
    opik_client.create_chat_prompt(
        name=COMPOSITE,
        messages=synced.messages(user=THEIRS),
        project_name=synced.config.opik.project_name,
    )
    run.join()
    return result["report"]


def test_an_overtaken_write_is_a_conflict_reported_until_resolved(
    synced, opik_client, opik_target, capsys
):
    opik_target.require_emulator()
    report = _race(synced, opik_client, opik_target)

    action = next(a for a in report.steps("composite") if a.subject == COMPOSITE)
    assert (action.outcome, action.ok) == ("conflict", False)
    assert "Charter edit" in action.reason and "Other writer" in action.reason
    assert f"--keep-charter {COMPOSITE}" in action.reason
    assert f"--keep-opik {COMPOSITE}" in action.reason
    state = json.loads(synced.config.state_path.read_text())
    race = state["composites"][COMPOSITE]["write_race"]
    assert race["theirs"]["version_number"] == "v2" and race["ours"]["version_number"] == "v3"

    # Every later run reports it again (exit 1 through the CLI), and writes nothing for it.
    opik_target.clear_requests()
    code, out = cli(synced, capsys, "sync")
    assert code == 1, out
    assert "write race" in out and "Other writer" in out
    writes = [r for r in opik_target.requests() if r.method in ("POST", "PATCH", "PUT")]
    assert [r for r in writes if not r.path.endswith("/retrieve")] == []

    # Taking the other writer's text restores it as the newest version; the pull adopts it.
    code, out = cli(synced, capsys, "sync", "--keep-opik", COMPOSITE)
    assert code == 0, out
    assert synced.template(CHARTER_TASK) == THEIRS
    assert latest_messages(opik_client, synced, COMPOSITE)[1]["content"] == THEIRS
    assert (
        "write_race"
        not in json.loads(synced.config.state_path.read_text())["composites"][COMPOSITE]
    )
    assert cli(synced, capsys, "sync")[0] == 0


def test_keeping_this_copys_version_settles_the_race(synced, opik_client, opik_target):
    opik_target.require_emulator()
    _race(synced, opik_client, opik_target)

    resolved = synced.sync(keep={COMPOSITE: "charter"})

    assert not resolved.failed, resolved.to_json()
    assert synced.template(CHARTER_TASK) == OURS
    assert latest_messages(opik_client, synced, COMPOSITE)[1]["content"] == OURS
    assert not synced.sync().failed
