"""No traceback, ever: a read-only checkout, an immutable charter, a full disk, Ctrl-C and an
``OPIK_URL_OVERRIDE`` that is not a URL each end in one line that names the cause and what to do,
with the README's exit code, and leave every file whole. Each case runs the real command line
(in this process, or as a program for Ctrl-C) on real files against the emulator over HTTP."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from prompt_sync_tests.disk import FailingOs, immutable, read_only
from prompt_sync_tests.forseti import (
    CHARTER_TASK,
    COMPOSITE,
    PERSONA,
    Forseti,
    chat_versions,
    optimize,
    run_main,
)

OPTIMIZED = "Optimized {{charter}} {{post}}"


def one_line(err: str) -> str:
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("prompt-sync: "), err
    return err


def leftovers(directory: Path) -> list[str]:
    """Temp files an atomic write would leave if it failed halfway."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def text_versions(client, forseti: Forseti, name: str) -> int:
    project = forseti.config.opik.project_name
    return len(client.get_prompt_history(name=name, project_name=project))


@pytest.fixture
def optimized(synced: Forseti, opik_client) -> Forseti:
    """Opik holds an optimized composite: the next sync rewrites the charter."""
    optimize(opik_client, synced, user=OPTIMIZED)
    return synced


# -- a read-only checkout -----------------------------------------------------------------------


def test_plan_and_check_work_on_a_read_only_checkout(optimized, capsys):
    config = str(optimized.config_path)
    lock = optimized.charter_path.with_name(optimized.charter_path.name + ".lock")
    lock.unlink(missing_ok=True)  # a fresh checkout: no lock file yet
    charter = optimized.charter_path.read_bytes()

    with read_only(optimized.charter_path.parent):
        plan = run_main(capsys, "--config", config, "plan")
        check = run_main(capsys, "--config", config, "check")
        sync = run_main(capsys, "--config", config, "sync", "--json")

    assert plan[0] == 0 and f"adopted       {CHARTER_TASK}" in plan[1]
    assert not lock.exists()  # a dry run takes no lock
    assert check[0] == 0 and "no problem found" in check[1]
    code, out, err = sync
    assert code == 2
    assert f"cannot create the charter's lock file {lock} (" in one_line(err)
    assert "`plan` and `check` work without it" in err
    assert json.loads(out)["hint"].startswith(f"`prompt-sync --config {config} plan` and ")
    assert optimized.charter_path.read_bytes() == charter


def test_a_read_only_checkout_with_a_lock_file_fails_at_the_charter_write(
    optimized, opik_client, capsys
):
    charter = optimized.charter_path.read_bytes()
    optimized.charter_path.with_name(optimized.charter_path.name + ".lock").touch()

    with read_only(optimized.charter_path.parent):
        code, out, err = run_main(capsys, "--config", str(optimized.config_path), "sync")

    assert code == 1 and out == ""
    assert f"could not write {optimized.charter_path} (" in one_line(err)
    assert "the file is as it was" in err
    assert optimized.charter_path.read_bytes() == charter
    assert leftovers(optimized.charter_path.parent) == []
    assert len(chat_versions(opik_client, optimized, COMPOSITE)) == 2  # nothing pushed over it


# -- an immutable charter file ------------------------------------------------------------------


def test_an_immutable_charter_is_one_line_and_stays_as_it_was(optimized, opik_client, capsys):
    charter = optimized.charter_path.read_bytes()

    with immutable(optimized.charter_path):
        code, out, err = run_main(capsys, "--config", str(optimized.config_path), "sync")

    assert code == 1 and out == ""
    assert one_line(err) == (
        f"prompt-sync: could not write {optimized.charter_path} (Operation not permitted); the "
        "file is as it was (writes are atomic): make forseti_charter.json and its directory "
        f"writable (an immutable file: `chattr -i {optimized.charter_path}`), then run again\n"
    )
    assert optimized.charter_path.read_bytes() == charter
    assert leftovers(optimized.charter_path.parent) == []
    assert len(chat_versions(opik_client, optimized, COMPOSITE)) == 2


def test_denied_at_write_as_for_an_immutable_file(optimized, capsys, monkeypatch):
    """The same refusal where chattr can't run: the kernel's EPERM at the rename, injected."""
    charter = optimized.charter_path.read_bytes()
    failing = FailingOs("replace", errno.EPERM, optimized.charter_path)
    monkeypatch.setattr("prompt_sync_pipeline.sync.atomic.os", failing)

    code, out, err = run_main(capsys, "--config", str(optimized.config_path), "sync", "--json")

    assert failing.failed == 1
    assert code == 1
    assert "(Operation not permitted)" in one_line(err) and "chattr -i" in err
    error = json.loads(out)
    assert error["exit_code"] == 1 and "writable" in error["hint"]
    assert optimized.charter_path.read_bytes() == charter
    assert leftovers(optimized.charter_path.parent) == []


# -- a full disk ----------------------------------------------------------------------------------


def test_a_full_disk_at_the_charter_write_keeps_the_old_charter(
    optimized, opik_client, capsys, monkeypatch
):
    charter = optimized.charter_path.read_bytes()
    state = optimized.config.state_path.read_bytes()
    failing = FailingOs("fsync", errno.ENOSPC, optimized.charter_path)
    with monkeypatch.context() as disk_full:
        disk_full.setattr("prompt_sync_pipeline.sync.atomic.os", failing)
        code, out, err = run_main(capsys, "--config", str(optimized.config_path), "sync")

    assert failing.failed == 1
    assert code == 1 and out == ""
    assert one_line(err) == (
        f"prompt-sync: could not write {optimized.charter_path} (No space left on device); the "
        "file is as it was (writes are atomic): free some disk space, then run again\n"
    )
    assert optimized.charter_path.read_bytes() == charter
    assert optimized.config.state_path.read_bytes() == state
    assert leftovers(optimized.charter_path.parent) == []
    assert len(chat_versions(opik_client, optimized, COMPOSITE)) == 2  # the run stopped there

    # Space freed: the next run adopts Opik's text.
    assert run_main(capsys, "--config", str(optimized.config_path), "sync")[0] == 0
    assert optimized.template(CHARTER_TASK) == OPTIMIZED


def test_a_full_disk_at_the_state_write_says_what_was_pushed(
    synced, opik_client, capsys, monkeypatch
):
    synced.edit(PERSONA, synced.template(PERSONA) + "\nBe brief.")
    state = synced.config.state_path.read_bytes()
    failing = FailingOs("fsync", errno.ENOSPC, synced.config.state_path)
    with monkeypatch.context() as disk_full:
        disk_full.setattr("prompt_sync_pipeline.sync.atomic.os", failing)
        code, out, err = run_main(capsys, "--config", str(synced.config_path), "sync")

    assert code == 1 and out == ""
    assert one_line(err).startswith(
        f"prompt-sync: could not write {synced.config.state_path} (No space left on device); "
        "the file is as it was (writes are atomic): free some disk space, then run again; "
        "before it, the run wrote 1 write request to Opik"
    )
    assert synced.config.state_path.read_bytes() == state
    assert leftovers(synced.charter_path.parent) == []
    assert text_versions(opik_client, synced, PERSONA) == 2

    # Space freed: the next run finds Opik equal to the charter, and writes no second version.
    assert run_main(capsys, "--config", str(synced.config_path), "sync")[0] == 0
    assert text_versions(opik_client, synced, PERSONA) == 2


# -- Ctrl-C -------------------------------------------------------------------------------------


def _interrupt(forseti: Forseti, opik_target, hold, *argv: str) -> tuple[int, str, str]:
    """Run prompt-sync as a program, send it SIGINT while the emulator holds ``hold``'s request
    (for far longer than the test waits), and collect how it ended."""
    process = subprocess.Popen(
        [sys.executable, "-m", "prompt_sync_pipeline", "--config", str(forseti.config_path), *argv],
        env={**os.environ, **opik_target.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        opik_target.wait_until(lambda: hold.hits == 1, "the held request", timeout=60)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)  # the held request would take 10 minutes
    finally:
        process.kill()
    return process.returncode, out, err


def test_ctrl_c_during_the_pull_writes_nothing_and_exits_130(optimized, opik_target):
    charter = optimized.charter_path.read_bytes()
    state = optimized.config.state_path.read_bytes()
    hold = opik_target.inject(r"/prompts/versions/retrieve$", "POST", hold_ms=600_000)

    code, out, err = _interrupt(optimized, opik_target, hold, "sync")

    assert code == 130 and out == ""
    assert one_line(err) == "prompt-sync: interrupted; nothing half-written (nothing was written)\n"
    assert optimized.charter_path.read_bytes() == charter
    assert optimized.config.state_path.read_bytes() == state


def test_ctrl_c_during_the_push_says_what_was_written(optimized, opik_target):
    # The pull has rewritten the charter when the adopted prompt's push is held.
    hold = opik_target.inject(r"/prompts/versions$", "POST", hold_ms=600_000)

    code, out, err = _interrupt(optimized, opik_target, hold, "sync", "--json")

    assert code == 130
    assert one_line(err).startswith(
        "prompt-sync: interrupted; nothing half-written (before it, the run wrote "
        f"{optimized.charter_path} (rewritten); "
    )
    assert f"run `prompt-sync --config {optimized.config_path} sync` to finish" in err
    error = json.loads(out)
    assert error["exit_code"] == 130 and "nothing is half-written" in error["hint"]
    assert optimized.template(CHARTER_TASK) == OPTIMIZED  # whole: the new file
    assert leftovers(optimized.charter_path.parent) == []


# -- an OPIK_URL_OVERRIDE that is not a URL -------------------------------------------------------


@pytest.mark.parametrize("url", ["localhost:5173", "127.0.0.1:5173/api", "http://", "opik"])
def test_a_url_that_is_not_one_is_refused_at_once(forseti, capsys, caplog, monkeypatch, url):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", url)

    with caplog.at_level(logging.DEBUG, logger="prompt_sync_pipeline"):
        code, out, err = run_main(capsys, "--config", str(forseti.config_path), "sync")

    assert code == 2 and out == ""
    assert one_line(err).startswith(f"prompt-sync: OPIK_URL_OVERRIDE is {url!r}, not a URL (")
    assert "http://HOST:5173/api" in err
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]  # no retry at all
