"""Git delivery through the CLI: real repositories (a bare remote, the deployment's clone, a
teammate's clone), the real ``git``, the real SDK against the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from prompt_sync_pipeline.cli import main
from prompt_sync_pipeline.delivery.runs import web_url
from prompt_sync_pipeline.sync.config import ConfigError
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE, optimize
from prompt_sync_tests.gitrepos import CHARTER, GIT_ENV, Team, git, make_team

OPTIMIZED = "\nAnswer in at most two sentences."


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def team(tmp_path: Path, opik_target) -> Team:
    return make_team(tmp_path, opik_target.project_name, deliver="branch")


def sync(team: Team, capsys, *options: str) -> tuple[int, str, str]:
    code = main(["--config", str(team.deployment.config_path), "sync", *options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def day_branches() -> set[str]:
    return {f"prompt-sync/{datetime.now(UTC).date().isoformat()}"}


def test_full_loop_teammate_edit_reaches_opik_and_optimization_comes_back_as_a_commit(
    team: Team, opik_client, capsys
):
    deployment = team.deployment
    assert sync(team, capsys)[0] == 0

    # A teammate's edit merged into main reaches Opik on the next run.
    edited = deployment.template(CHARTER_TASK) + "\nCite the charter's article."
    teammate_commit = team.teammate_edit(CHARTER_TASK, edited)
    code, out, err = sync(team, capsys)
    assert code == 0, out + err
    assert f"git: checkout fast-forwarded to {teammate_commit[:12]}" in out
    assert git(team.deploy_dir, "merge-base", "--is-ancestor", teammate_commit, "HEAD") == ""
    text = opik_client.get_prompt(CHARTER_TASK, project_name=deployment.config.opik.project_name)
    assert text.prompt == edited

    # An optimization saved in Opik comes back as a commit on the day's branch.
    before = team.remote_branches()
    optimize(opik_client, deployment, user=edited + OPTIMIZED)
    code, out, err = sync(team, capsys, "--json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["pull_changed"] == 1
    branch = result["git"]["branch"]
    assert branch in day_branches()
    commit = result["git"]["commit"]
    assert team.remote_branches()[branch] == commit
    assert team.remote_branches()["main"] == before["main"]  # never pushed to the base branch

    git(team.teammate, "fetch", "-q", "origin")
    charter = json.loads(git(team.teammate, "show", f"origin/{branch}:{CHARTER}"))
    assert charter[CHARTER_TASK]["template"] == edited + OPTIMIZED
    message = git(team.teammate, "log", "-1", "--format=%B", f"origin/{branch}")
    adopted = next(a for a in result["actions"] if a["outcome"] == "adopted")
    assert f"- {CHARTER_TASK}: {COMPOSITE} {adopted['version'].split(' ', 1)[1]}" in message
    assert "pull_changed=1 pull_failed=0" in message and "composite_failed=0" in message
    files = git(team.teammate, "diff-tree", "--no-commit-id", "--name-only", "-r", commit)
    assert set(files.split()) <= {CHARTER, "forseti_charter.sync-state.json"}
    assert CHARTER in files.split()

    # A second run the same day with no change creates no commit.
    head = git(team.deploy_dir, "rev-parse", "HEAD")
    branches = team.remote_branches()
    code, out, _ = sync(team, capsys)
    assert code == 0
    assert "git: committed" not in out
    assert git(team.deploy_dir, "rev-parse", "HEAD") == head
    assert team.remote_branches() == branches

    # A later change the same day adds a commit to the same branch (a fast-forward push).
    optimize(opik_client, deployment, user=edited + OPTIMIZED + "\nBe kind.")
    code, out, _ = sync(team, capsys)
    assert code == 0, out
    later = team.remote_branches()[branch]
    assert later != commit
    assert git(team.remote, "rev-parse", f"{later}^") == commit


def test_diverged_checkout_fails_after_the_sync_and_loses_nothing(team: Team, opik_client, capsys):
    deployment = team.deployment
    assert sync(team, capsys)[0] == 0
    # Someone committed in the deployment's checkout while main moved on.
    (team.deploy_dir / "NOTES.md").write_text("local note\n")
    git(team.deploy_dir, "add", "NOTES.md")
    git(team.deploy_dir, "commit", "-qm", "A local commit")
    team.teammate_edit("forseti.wording_correction", "Fix the wording of {{text}}.")
    optimize(opik_client, deployment, user=deployment.template(CHARTER_TASK) + OPTIMIZED)

    code, out, err = sync(team, capsys)

    assert code == 1
    assert "can't fast-forward" in err and "has diverged" in err
    assert f"`git -C {team.deploy_dir} pull --rebase origin main`" in err
    # The sync did its work on the charter as checked out, and the pull is committed.
    assert "pull_changed=1" in out and "individual_failed=0" in out
    assert deployment.template(CHARTER_TASK).endswith(OPTIMIZED)
    shown = json.loads(git(team.deploy_dir, "show", f"HEAD:{CHARTER}"))
    assert shown[CHARTER_TASK]["template"].endswith(OPTIMIZED)
    assert git(team.deploy_dir, "status", "--porcelain", "--", CHARTER) == ""
    # The day's branch would carry the local commit into the team's review: not pushed.
    assert "not pushed" in err
    assert not any(b.startswith("prompt-sync/") for b in team.remote_branches())


def test_local_commits_fail_the_update_and_are_never_pushed(team: Team, opik_client, capsys):
    deployment = team.deployment
    assert sync(team, capsys)[0] == 0
    (team.deploy_dir / "NOTES.md").write_text("local note\n")
    git(team.deploy_dir, "add", "NOTES.md")
    git(team.deploy_dir, "commit", "-qm", "A local commit")
    optimize(opik_client, deployment, user=deployment.template(CHARTER_TASK) + OPTIMIZED)

    code, out, err = sync(team, capsys)

    assert code == 1
    assert "has 1 commit(s) that are not in origin/main and not prompt-sync's" in err
    assert f"git -C {team.deploy_dir} log --oneline origin/main..HEAD" in err
    assert "pull_changed=1" in out
    assert not any(b.startswith("prompt-sync/") for b in team.remote_branches())
    assert git(team.deploy_dir, "log", "-1", "--format=%s").startswith("prompt-sync: adopt 1")


def test_rejected_push_fails_clearly_and_the_next_run_delivers_the_commit(
    team: Team, opik_client, capsys
):
    deployment = team.deployment
    assert sync(team, capsys)[0] == 0
    team.reject_pushes("prompt-sync/* is protected")
    optimize(opik_client, deployment, user=deployment.template(CHARTER_TASK) + OPTIMIZED)

    code, out, err = sync(team, capsys)

    assert code == 1
    assert "could not push to origin prompt-sync/" in err
    assert "prompt-sync/* is protected" in err
    head = git(team.deploy_dir, "rev-parse", "HEAD")
    assert f"git -C {team.deploy_dir} push origin {head[:12]}:refs/heads/prompt-sync/" in err
    assert not any(b.startswith("prompt-sync/") for b in team.remote_branches())
    # Nothing lost: the pull is committed in the checkout, and delivered once the remote allows.
    assert json.loads(git(team.deploy_dir, "show", f"HEAD:{CHARTER}"))[CHARTER_TASK][
        "template"
    ].endswith(OPTIMIZED)
    team.allow_pushes()
    code, out, _ = sync(team, capsys)
    assert code == 0, out
    branches = team.remote_branches()
    (branch,) = [b for b in branches if b.startswith("prompt-sync/")]
    assert branch in day_branches() and branches[branch] == head


def test_someones_uncommitted_charter_edit_is_refused_and_no_git_runs_anyway(
    team: Team, opik_client, opik_target, capsys
):
    deployment = team.deployment
    assert sync(team, capsys)[0] == 0
    edited = deployment.template(CHARTER_TASK) + "\nA hand edit on the server."
    deployment.edit(CHARTER_TASK, edited)
    on_disk = deployment.charter_path.read_bytes()
    opik_target.clear_requests()

    code, _, err = sync(team, capsys)

    assert code == 2
    assert f"{CHARTER} in {team.deploy_dir} has changes prompt-sync did not make" in err
    assert f"git -C {team.deploy_dir} checkout -- {CHARTER}" in err
    assert deployment.charter_path.read_bytes() == on_disk
    assert opik_target.requests() == []  # refused before Opik was read

    code, out, _ = sync(team, capsys, "--no-git")
    assert code == 0
    assert "git:" not in out
    assert git(team.deploy_dir, "status", "--porcelain", "--", CHARTER) == f"M {CHARTER}"
    prompt = opik_client.get_prompt(CHARTER_TASK, project_name=deployment.config.opik.project_name)
    assert prompt.prompt == edited


def test_failed_commit_keeps_the_change_and_the_next_run_commits_it_first(
    tmp_path: Path, opik_target, opik_client, capsys
):
    team = make_team(tmp_path, opik_target.project_name, deliver="commit")
    deployment = team.deployment
    assert sync(team, capsys)[0] == 0
    hook = team.deploy_dir / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'commits are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    optimize(opik_client, deployment, user=deployment.template(CHARTER_TASK) + OPTIMIZED)
    head = git(team.deploy_dir, "rev-parse", "HEAD")

    code, _, err = sync(team, capsys)

    assert code == 1
    assert "could not commit" in err and "commits are frozen" in err
    assert git(team.deploy_dir, "rev-parse", "HEAD") == head
    assert deployment.template(CHARTER_TASK).endswith(OPTIMIZED)  # the working copy keeps it

    # The dirty charter is the tool's own output: the next run commits it (with the first
    # run's message) before doing anything else, instead of refusing it.
    hook.unlink()
    code, out, _ = sync(team, capsys)
    assert code == 0, out
    message = git(team.deploy_dir, "log", "-1", "--format=%B")
    assert f"- {CHARTER_TASK}: {COMPOSITE} " in message
    assert git(team.deploy_dir, "status", "--porcelain", "--", CHARTER) == ""
    assert team.remote_branches()["main"] == head  # deliver: commit never pushes


def test_missing_remote_fails_the_run_after_the_sync(tmp_path: Path, opik_target, capsys):
    team = make_team(tmp_path, opik_target.project_name, remote="upstream")

    code, out, err = sync(team, capsys)

    assert code == 1
    assert "could not find the remote 'upstream'" in err
    assert f"git -C {team.deploy_dir} remote add upstream <url>" in err
    assert "individual_synced=4" in out and "composite_synced=3" in out


def test_charter_outside_git_is_refused(forseti, capsys):
    forseti.configure(git={"deliver": "commit"})

    code = main(["--config", str(forseti.config_path), "pull"])

    assert code == 2
    assert "find the git work tree" in capsys.readouterr().err


def test_git_settings_are_validated(forseti):
    forseti.configure(git={"branch": "prompt-sync/{day}"})
    with pytest.raises(ConfigError, match="the only placeholder is"):
        forseti.config  # noqa: B018
    forseti.configure(git={"deliver": "pr"})
    with pytest.raises(ConfigError, match=r"git\.deliver"):
        forseti.config  # noqa: B018


@pytest.mark.parametrize(
    ("remote", "page"),
    [
        ("https://github.com/acme/prompts.git", "https://github.com/acme/prompts"),
        (
            "https://x-access-token:SECRET@github.com/acme/prompts",
            "https://github.com/acme/prompts",
        ),
        ("https://gitlab.example.com/data/prompts.git", "https://gitlab.example.com/data/prompts"),
        ("git@github.com:acme/prompts.git", None),
        ("/srv/git/prompts.git", None),
    ],
)
def test_web_url_of_a_remote_never_carries_credentials(remote: str, page: str | None):
    assert web_url(remote) == page


def test_the_commit_message_has_the_adopted_versions_scores_against_the_replaced_one(
    tmp_path: Path, opik_target, opik_client, capsys
):
    from prompt_sync_tests.lab import Lab

    bot = {"name": "prompt-sync bot", "email": "bot@example.com"}
    team = make_team(tmp_path, opik_target.project_name, deliver="commit", author=bot)
    assert sync(team, capsys)[0] == 0
    lab = Lab(opik_client, opik_target.project_name)
    lab.experiment("baseline", [lab.version(COMPOSITE, 1)], [{"accuracy": 0.5}] * 3)
    optimized = team.deployment.template(CHARTER_TASK) + OPTIMIZED
    lab.new_version(team.deployment, COMPOSITE, optimized)
    lab.experiment("optimized", [lab.version(COMPOSITE, 2)], [{"accuracy": 0.9}] * 3)
    lab.flush()

    code, out, _ = sync(team, capsys)

    assert code == 0, out
    message = git(team.deploy_dir, "log", "-1", "--format=%B")
    assert f"- {CHARTER_TASK}: {COMPOSITE} v2 (" in message, message
    assert f"  {COMPOSITE} v2 experiment scores against v1: accuracy 0.9 (was 0.5)" in message
    author = git(team.deploy_dir, "log", "-1", "--format=%an <%ae> / %cn <%ce>")
    assert author == "prompt-sync bot <bot@example.com> / prompt-sync bot <bot@example.com>"


def test_update_before_run_false_leaves_the_checkout_where_it_is(
    tmp_path: Path, opik_target, opik_client, capsys
):
    team = make_team(tmp_path, opik_target.project_name, update_before_run=False)
    head = git(team.deploy_dir, "rev-parse", "HEAD")
    team.teammate_edit(CHARTER_TASK, "Teammate's {{charter}} {{post}}")

    code, out, _ = sync(team, capsys)

    assert code == 0, out
    assert git(team.deploy_dir, "rev-parse", "HEAD") == head
    project = team.deployment.config.opik.project_name
    assert opik_client.get_prompt(CHARTER_TASK, project_name=project).prompt != (
        "Teammate's {{charter}} {{post}}"
    )


def test_only_the_charter_and_its_state_file_are_ever_committed(team: Team, opik_client, capsys):
    deployment = team.deployment
    assert sync(team, capsys)[0] == 0
    state = deployment.config.state_path
    (team.deploy_dir / "NOTES.md").write_text("staged, not the tool's\n")
    git(team.deploy_dir, "add", "NOTES.md")
    optimize(opik_client, deployment, user=deployment.template(CHARTER_TASK) + OPTIMIZED)
    head = git(team.deploy_dir, "rev-parse", "HEAD")

    code, out, _ = sync(team, capsys)

    assert code == 0, out
    files = git(team.deploy_dir, "diff", "--name-only", head, "HEAD")
    assert sorted(files.split()) == sorted([CHARTER, state.name])
    assert git(team.deploy_dir, "status", "--porcelain") == "A  NOTES.md"


def test_a_changed_state_file_alone_is_committed_and_never_refused(team: Team, capsys):
    assert sync(team, capsys)[0] == 0
    head = git(team.deploy_dir, "rev-parse", "HEAD")
    state = team.deployment.config.state_path
    document = json.loads(state.read_text())
    # As a run that recorded a base behind Opik's latest version leaves it, uncommitted.
    next(iter(document["composites"].values()))["version_count"] = 0
    state.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")

    code, out, _ = sync(team, capsys)

    assert code == 0, out
    # Delivered first (then the run re-read that composite and committed the state again).
    commits = git(team.deploy_dir, "rev-list", f"{head}..HEAD").split()
    assert commits
    for commit in commits:
        files = git(team.deploy_dir, "show", "--name-only", "--format=%s", commit).split("\n")
        assert files[0].startswith("prompt-sync: ") and files[1:] == ["", state.name]
    assert git(team.deploy_dir, "status", "--porcelain") == ""


def test_deliver_none_updates_the_checkout_and_leaves_the_pull_uncommitted(
    tmp_path: Path, opik_target, opik_client, capsys
):
    team = make_team(tmp_path, opik_target.project_name, deliver="none")
    deployment = team.deployment
    assert sync(team, capsys)[0] == 0
    optimize(opik_client, deployment, user=deployment.template(CHARTER_TASK) + OPTIMIZED)
    merged = team.teammate_edit("forseti.wording_correction", "Fix the wording of {{text}}.")
    head = git(team.deploy_dir, "rev-parse", "HEAD")

    code, out, _ = sync(team, capsys)

    assert code == 0, out
    assert git(team.deploy_dir, "rev-parse", "HEAD") == merged != head
    assert git(team.deploy_dir, "status", "--porcelain", "--", CHARTER) == f"M {CHARTER}"
    # The uncommitted pull is the tool's own output: the next run goes on, it is not refused.
    code, out, _ = sync(team, capsys)
    assert code == 0, out
    assert deployment.template(CHARTER_TASK).endswith(OPTIMIZED)


def test_a_delivery_awaiting_review_merges_the_teams_moved_branch(team: Team, opik_client, capsys):
    deployment = team.deployment
    optimize(opik_client, deployment, user=deployment.template(CHARTER_TASK) + OPTIMIZED)
    assert sync(team, capsys)[0] == 0  # the pull: a commit on the day's branch, awaiting review
    delivered = git(team.deploy_dir, "rev-parse", "HEAD")
    task = "forseti.wording_correction"
    edited = deployment.template(task) + "\nKeep the member's own voice."
    teammate_commit = team.teammate_edit(task, edited)  # main moves meanwhile

    code, out, err = sync(team, capsys)

    assert code == 0, out + err
    assert f"git: checkout merged with {teammate_commit[:12]}" in out
    project = deployment.config.opik.project_name
    assert opik_client.get_prompt(task, project_name=project).prompt == edited
    assert deployment.template(CHARTER_TASK).endswith(OPTIMIZED)  # the delivery is kept
    for commit in (delivered, teammate_commit):
        assert git(team.deploy_dir, "merge-base", "--is-ancestor", commit, "HEAD") == ""
    # The day's branch only ever moves forward (never forced): it now carries the merge.
    (tip,) = [sha for name, sha in team.remote_branches().items() if name in day_branches()]
    assert git(team.deploy_dir, "merge-base", "--is-ancestor", delivered, tip) == ""


def test_a_merge_that_conflicts_changes_nothing_and_says_what_to_run(
    team: Team, opik_client, capsys
):
    deployment = team.deployment
    optimize(opik_client, deployment, user=deployment.template(CHARTER_TASK) + OPTIMIZED)
    assert sync(team, capsys)[0] == 0
    delivered = git(team.deploy_dir, "rev-parse", "HEAD")
    team.teammate_edit(CHARTER_TASK, "Teammate's own {{charter}} {{post}}")  # the same prompt

    code, _, err = sync(team, capsys)

    assert code == 1
    assert "diverged" in err and "pull --rebase" in err
    assert git(team.deploy_dir, "rev-parse", "HEAD") == delivered
    assert git(team.deploy_dir, "status", "--porcelain") == ""
    assert deployment.template(CHARTER_TASK).endswith(OPTIMIZED)
