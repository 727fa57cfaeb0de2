"""Real git repositories for the delivery tests: a bare "remote", the deployment's clone and a
teammate's clone, all in a temp dir, with git's identity and configuration fixed by the test."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from prompt_sync_tests.forseti import Forseti, make_forseti

# No developer's ~/.gitconfig or /etc/gitconfig changes what the tests see.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.com",
}
CHARTER = "forseti_charter.json"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass
class Team:
    remote: Path  # the bare repository everyone pushes to
    deployment: Forseti  # the Dagster deployment's checkout
    teammate: Path  # someone else's clone

    @property
    def deploy_dir(self) -> Path:
        return self.deployment.config_path.parent

    def remote_branches(self) -> dict[str, str]:
        """branch name -> commit, as the remote holds them."""
        out = git(self.remote, "for-each-ref", "--format=%(refname:short) %(objectname)")
        return dict(line.split() for line in out.splitlines())

    def teammate_edit(self, name: str, template: str) -> str:
        """The teammate edits a prompt, commits and pushes to main; returns the commit."""
        mate = Forseti(self.teammate / "prompt_sync.yaml", self.teammate / CHARTER)
        mate.edit(name, template)
        git(self.teammate, "commit", "-qam", f"Edit {name}")
        git(self.teammate, "push", "-q", "origin", "main")
        return git(self.teammate, "rev-parse", "HEAD")

    def reject_pushes(self, message: str = "protected branch") -> None:
        """A server-side hook that rejects every push, like a protected branch."""
        hook = self.remote / "hooks" / "pre-receive"
        hook.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
        hook.chmod(0o755)

    def allow_pushes(self) -> None:
        (self.remote / "hooks" / "pre-receive").unlink()


def make_team(directory: Path, project_name: str, **git_settings: Any) -> Team:
    """The forseti example, synced once, committed with its state file on ``main`` of a bare
    remote, with ``git:`` configured (``git_settings``), cloned as the deployment and as a
    teammate."""
    seed = directory / "seed"
    seed.mkdir()
    example = make_forseti(seed, project_name)
    # The team's set-up: a first sync, its state file committed with the charter.
    assert not example.sync().failed
    raw = yaml.safe_load(example.config_path.read_text())
    raw["git"] = git_settings
    example.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    (seed / ".gitignore").write_text("*.lock\n")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "The forseti charter")
    remote = directory / "remote.git"
    git(directory, "clone", "-q", "--bare", str(seed), str(remote))
    for name in ("deployment", "teammate"):
        git(directory, "clone", "-q", str(remote), str(directory / name))
    deploy = directory / "deployment"
    return Team(
        remote, Forseti(deploy / "prompt_sync.yaml", deploy / CHARTER), directory / "teammate"
    )
