"""The ``git`` executable, through a small typed wrapper with its own error.

Only what delivery needs: read the checkout's state, fetch, fast-forward, commit named paths and
push without force. Every failure is a :class:`GitError` that says which command failed and
what to run by hand; URLs in git's messages lose any credentials they carry.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

# `https://user:token@host/...` -> `https://host/...`: a token must never reach a message.
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
# Git must never stop to ask for a password or a passphrase: a nightly run has nobody to answer.
_NON_INTERACTIVE = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


class GitError(Exception):
    """A git command failed. ``hint`` is the command a person can run to sort it out."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(message + (f"; run `{hint}`" if hint else ""))


def redact(text: str) -> str:
    return _CREDENTIALS.sub("", text)


class Git:
    """One git work tree, driven through the ``git`` command line."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def containing(cls, path: Path) -> Git:
        """The work tree that holds ``path`` (a file or directory)."""
        directory = path if path.is_dir() else path.parent
        probe = cls(directory)
        top = probe.run("rev-parse", "--show-toplevel", what=f"find the git work tree of {path}")
        return cls(Path(top).resolve())

    def run(
        self,
        *args: str,
        what: str,
        hint: str | None = None,
        stdin: str | None = None,
        strip: bool = True,
        env: dict[str, str] | None = None,
    ) -> str:
        """``git -C root ARGS``; its stdout. Raises GitError saying ``what`` failed."""
        done = self._git(args, stdin, env)
        if done.returncode != 0:
            detail = redact((done.stderr or done.stdout).strip()).replace("\n", " | ")
            raise GitError(f"could not {what} (`git {' '.join(args)}`: {detail})", hint=hint)
        return done.stdout.strip() if strip else done.stdout

    def succeeds(self, *args: str) -> bool:
        return self._git(args).returncode == 0

    def _git(
        self, args: tuple[str, ...], stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["git", "-C", str(self.root), *args],
                input=stdin,
                capture_output=True,
                text=True,
                env={**os.environ, **_NON_INTERACTIVE, **(env or {})},
                check=False,
            )
        except FileNotFoundError:
            raise GitError("the `git` executable is not installed or not on PATH") from None

    # Reading the checkout ------------------------------------------------------------------------

    def relative(self, path: Path) -> str:
        """``path`` relative to the work tree, as git names it (POSIX separators)."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            raise GitError(f"{path} is not inside the git work tree {self.root}") from None

    def current_branch(self) -> str:
        return self.run(
            "symbolic-ref",
            "--quiet",
            "--short",
            "HEAD",
            what="find the checked-out branch (HEAD is detached)",
            hint=f"git -C {self.root} checkout <branch>",
        )

    def head(self) -> str:
        return self.run("rev-parse", "HEAD", what="read HEAD")

    def changed(self, paths: list[str]) -> list[str]:
        """Which of ``paths`` differ from HEAD (staged, unstaged or untracked)."""
        out = self.run(
            "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths,
            what="read the checkout's status", strip=False,
        )  # fmt: skip
        return sorted({entry[3:] for entry in out.split("\0") if len(entry) > 3})

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.succeeds("merge-base", "--is-ancestor", older, newer)

    def commits_between(self, since: str, until: str, *, without: str = "") -> list[str]:
        """Commits in ``until`` but not ``since``; with ``without``, only those whose message
        lacks that line."""
        args = ["log", "--format=%H", f"{since}..{until}"]
        if without:
            args += ["--invert-grep", "--fixed-strings", f"--grep={without}"]
        out = self.run(*args, what=f"list the commits between {since} and {until}")
        return out.split()

    def remote_url(self, remote: str) -> str:
        return self.run(
            "remote",
            "get-url",
            remote,
            what=f"find the remote {remote!r}",
            hint=f"git -C {self.root} remote add {remote} <url>",
        )

    # Changing it -----------------------------------------------------------------------------------

    def fetch(self, remote: str, branch: str) -> str:
        """Fetch ``branch`` from ``remote``; returns the fetched commit."""
        self.remote_url(remote)  # a clear message when the remote does not exist
        self.run(
            "fetch", "--quiet", "--no-tags", remote,
            f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}",
            what=f"fetch {branch} from {remote}",
            hint=f"git -C {self.root} fetch {remote} {branch}",
        )  # fmt: skip
        return self.run("rev-parse", f"refs/remotes/{remote}/{branch}", what="read the fetch")

    def fast_forward(self, commit: str, *, hint: str) -> None:
        self.run("merge", "--ff-only", "--quiet", commit, what="fast-forward", hint=hint)

    def merge(self, commit: str, message: str, author: tuple[str, str] | None) -> bool:
        """Merge ``commit`` into HEAD with a merge commit; False, with nothing changed, when the
        two sides conflict."""
        args = ("merge", "--no-ff", "--quiet", "-m", message, commit)
        if self._git(args, env=_identity(author)).returncode == 0:
            return True
        self.succeeds("merge", "--abort")
        return False

    def commit(self, paths: list[str], message: str, author: tuple[str, str] | None) -> str:
        """Commit exactly ``paths`` (whatever else is staged stays staged); returns the commit."""
        self.run("add", "--", *paths, what="stage " + ", ".join(paths))
        self.run(
            "commit", "--quiet", "--only", "-F", "-", "--", *paths,
            stdin=message,
            env=_identity(author),
            what="commit " + ", ".join(paths),
            hint=f"git -C {self.root} commit -- {' '.join(paths)}",
        )  # fmt: skip
        return self.head()

    def push(self, remote: str, commit: str, branch: str) -> None:
        """Push ``commit`` to ``remote``'s ``branch``; never forced, so a rejection stands."""
        self.remote_url(remote)  # a clear message when the remote does not exist
        self.run(
            "push", "--quiet", "--porcelain", remote, f"{commit}:refs/heads/{branch}",
            what=f"push to {remote} {branch}",
            hint=f"git -C {self.root} push {remote} {commit[:12]}:refs/heads/{branch}",
        )  # fmt: skip


def _identity(author: tuple[str, str] | None) -> dict[str, str]:
    """The configured author wins over git's config and the environment's GIT_* identity."""
    if author is None:
        return {}
    name, email = author
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
