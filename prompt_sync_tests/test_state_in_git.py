"""The sync state travels with the charter in git: redeploys, clones and merges with real git
(a repository and a clone in a temp dir), and the state file's error cases through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from prompt_sync_pipeline.cli import main
from prompt_sync_tests.forseti import (
    CHARTER_TASK,
    COMPOSITE,
    Forseti,
    chat_versions,
    latest_messages,
    make_forseti,
    optimize,
)

CATEGORY = "forseti.category_classification"
CATEGORY_COMPOSITE = "forseti-persona-category"
WORDING = "forseti.wording_correction"
WORDING_COMPOSITE = "forseti-persona-wording"
GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=check,
    )


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path: Path, opik_target) -> Forseti:
    """The example in a git repository, synced once and committed with its state file."""
    path = tmp_path / "team"
    path.mkdir()
    forseti = make_forseti(path, opik_target.project_name)
    (path / ".gitignore").write_text("*.lock\n")
    git(path, "init", "-q", "-b", "main")
    assert not forseti.sync().failed
    assert forseti.config.state_path.is_file()
    commit_all(path, "charter and its sync state")
    return forseti


def clone(repo: Forseti, name: str) -> Forseti:
    target = repo.config_path.parent.parent / name
    git(repo.config_path.parent.parent, "clone", "-q", str(repo.config_path.parent), str(target))
    return Forseti(target / "prompt_sync.yaml", target / "forseti_charter.json")


def writes(opik_target) -> list:
    return [
        r
        for r in opik_target.requests()
        if r.method in ("POST", "PATCH", "PUT", "DELETE")
        and not r.path.endswith("/retrieve")  # reads sent as POST
    ]


def test_a_reset_charter_re_adopts_the_optimization_and_writes_nothing(
    repo, opik_client, opik_target
):
    optimized = "Optimized in Opik {{charter}} {{post}}"
    optimize(opik_client, repo, user=optimized)
    assert repo.sync().counters["pull_changed"] == 1
    # A redeploy (or `git checkout`): the pulled change was never committed.
    git(repo.config_path.parent, "reset", "-q", "--hard")
    assert repo.template(CHARTER_TASK) != optimized
    versions = len(chat_versions(opik_client, repo, COMPOSITE))
    opik_target.clear_requests()

    report = repo.sync()

    assert not report.failed, report.to_json()
    assert report.counters["pull_changed"] == 1
    assert not [a for a in report.actions if a.outcome == "kept_local"]
    assert repo.template(CHARTER_TASK) == optimized
    assert writes(opik_target) == []
    assert len(chat_versions(opik_client, repo, COMPOSITE)) == versions
    assert latest_messages(opik_client, repo, COMPOSITE)[1]["content"] == optimized


def test_two_clones_converge_and_a_same_part_edit_is_a_conflict(repo, opik_client, opik_target):
    mine, theirs = repo, clone(repo, "teammate")
    mine.edit(CHARTER_TASK, "Mine {{charter}} {{post}}")
    assert not mine.sync().failed
    theirs.edit(CATEGORY, "Theirs {{post}} {{categories}}")

    report = theirs.sync()  # adopts mine, pushes its own

    assert not report.failed, report.to_json()
    assert theirs.template(CHARTER_TASK) == "Mine {{charter}} {{post}}"
    assert not mine.sync().failed  # adopts theirs
    assert mine.charter() == theirs.charter()
    assert latest_messages(opik_client, mine, CATEGORY_COMPOSITE)[1]["content"] == (
        "Theirs {{post}} {{categories}}"
    )
    # Both copies sync again: nothing moves.
    opik_target.clear_requests()
    assert not mine.sync().failed and not theirs.sync().failed
    assert writes(opik_target) == []

    # The same part edited on both copies: a reported conflict, never alternating versions.
    mine.edit(WORDING, "Mine again {{post}}")
    assert not mine.sync().failed
    theirs.edit(WORDING, "Theirs again {{post}}")
    versions = len(chat_versions(opik_client, mine, WORDING_COMPOSITE))
    for _ in range(2):
        conflicted = theirs.sync()
        pull = next(a for a in conflicted.steps("pull") if a.subject == WORDING_COMPOSITE)
        assert pull.outcome == "conflict" and "Mine again" in pull.reason
        assert not mine.sync().failed
    assert len(chat_versions(opik_client, mine, WORDING_COMPOSITE)) == versions
    assert theirs.template(WORDING) == "Theirs again {{post}}"


def cli(forseti: Forseti, capsys, *argv: str) -> tuple[int, str]:
    code = main(["--config", str(forseti.config_path), *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_state_file_left_with_merge_conflicts_stops_the_run_until_rebuilt(
    repo, opik_client, opik_target, capsys
):
    team = repo.config_path.parent
    other = clone(repo, "teammate")
    repo.edit(CHARTER_TASK, "Mine {{charter}} {{post}}")
    assert not repo.sync().failed
    commit_all(team, "my edit")
    assert not other.sync().failed  # adopts mine
    other.edit(CHARTER_TASK, "Theirs {{charter}} {{post}}")
    assert not other.sync().failed
    commit_all(other.config_path.parent, "their edit")
    merge = git(
        other.config_path.parent, "pull", "-q", "--no-rebase", "origin", "main", check=False
    )
    assert merge.returncode != 0  # both commits changed the same prompt and state entry
    state_text = other.config.state_path.read_text()
    assert "<<<<<<<" in state_text
    git(other.config_path.parent, "checkout", "--ours", "forseti_charter.json")
    opik_target.clear_requests()

    code, out = cli(other, capsys, "sync")

    assert code == 2
    assert "git conflict markers" in out and "--rebuild-state" in out
    # Refused before any request (the fixture's own SDK client may ping in the background).
    assert [r for r in opik_target.requests() if "is-alive" not in r.path] == []
    assert other.config.state_path.read_text() == state_text

    code, out = cli(other, capsys, "sync", "--rebuild-state")
    assert code == 0, out
    assert "<<<<<<<" not in other.config.state_path.read_text()
    assert cli(other, capsys, "sync")[0] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a valid sync state"),
        (None, "belongs to Opik workspace"),
    ],
)
def test_an_unusable_state_file_exits_2_and_says_how_to_recover(
    repo, opik_target, capsys, content, message
):
    path = repo.config.state_path
    if content is None:  # a state from another Opik project
        document = json.loads(path.read_text())
        document["project"] = "another-project"
        content = json.dumps(document)
    path.write_text(content)
    opik_target.clear_requests()

    for command in ("sync", "pull", "plan"):
        code, out = cli(repo, capsys, command)
        assert code == 2 and message in out and "--rebuild-state" in out
    assert path.read_text() == content
    assert [r for r in opik_target.requests() if "is-alive" not in r.path] == []


def test_two_branches_that_synced_different_prompts_merge_cleanly(repo, opik_client):
    other = clone(repo, "teammate")
    repo.edit(CHARTER_TASK, "Mine {{charter}} {{post}}")
    assert not repo.sync().failed
    commit_all(repo.config_path.parent, "my edit")
    other.edit(CATEGORY, "Theirs {{post}} {{categories}}")
    assert not other.sync().failed
    commit_all(other.config_path.parent, "their edit")

    merge = git(other.config_path.parent, "pull", "-q", "--no-rebase", "origin", "main")

    assert merge.returncode == 0
    assert "<<<<<<<" not in other.config.state_path.read_text()
    report = other.sync()
    assert not report.failed and report.counters["pull_changed"] == 0


@pytest.mark.parametrize("change", ["optimized in Opik", "edited in the charter"])
def test_a_crash_before_the_state_write_still_decides_correctly(
    repo, opik_client, opik_target, change
):
    new_text = f"Changed ({change}) {{{{charter}}}} {{{{post}}}}"
    if change == "optimized in Opik":
        optimize(opik_client, repo, user=new_text)
    else:
        repo.edit(CHARTER_TASK, new_text)
    state_before = repo.config.state_path.read_text()
    assert not repo.sync().failed  # writes the charter (or Opik), then the state
    # As if the run died right after the charter (or Opik) write: the old state is left.
    repo.config.state_path.write_text(state_before)
    versions = len(chat_versions(opik_client, repo, COMPOSITE))
    opik_target.clear_requests()

    report = repo.sync()

    assert not report.failed, report.to_json()
    assert report.counters["pull_changed"] == 0
    assert writes(opik_target) == []
    assert repo.template(CHARTER_TASK) == new_text
    assert len(chat_versions(opik_client, repo, COMPOSITE)) == versions
    assert repo.config.state_path.read_text() != state_before  # caught up
