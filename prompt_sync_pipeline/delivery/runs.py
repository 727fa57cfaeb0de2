"""Git around one sync run: bring the charter's checkout up to date before, deliver after.

The CLI (``sync``/``pull``/``push``) and the Dagster job both call :meth:`GitRun.start` before
the run reads the charter and :meth:`GitRun.finish` after the pull. The engine never sees git.

Safety rules: never force-push; never commit anything but the charter and its
state file; never start from a charter with changes the tool didn't make. A git failure never
undoes the sync's own work: the working copy keeps the change, the failure is recorded with the
command to run, and the run ends as failed after the sync did what it could.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import UsageError
from ..sync.charter import CharterLocked, charter_lock
from ..sync.config import GitSettings, SyncConfig
from ..sync.report import SyncReport
from .git import Git, GitError, redact
from .message import TRAILER, commit_message, pending_message
from .scores import adopted_scores

# In the git directory (never in the work tree): what a run left undelivered for the next one.
PENDING_FILE = "prompt-sync-pending.json"


class CheckoutRefused(UsageError):
    """The checkout is not one a run may start from (e.g. someone's uncommitted charter edit).
    Nothing was read or written."""


class _Pending(BaseModel):
    """Output of an earlier run that is not delivered yet."""

    files: dict[str, str] = {}  # path in the work tree -> sha256 of the content the run left
    message: str = ""
    unpushed: bool = False  # a commit exists but its push failed


@dataclass
class GitOutcome:
    """What git did in this run: the commit and branch it delivered, and what failed."""

    commit: str | None = None
    branch: str | None = None
    commit_url: str | None = None
    branch_url: str | None = None
    updated_to: str | None = None  # the commit the checkout was fast-forwarded (or merged) to
    merged: bool = False  # brought up to date by a merge: the tool's deliveries await review
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        lines = []
        if self.updated_to:
            how = "merged with" if self.merged else "fast-forwarded to"
            lines.append(f"git: checkout {how} {self.updated_to[:12]}")
        if self.commit:
            where = f", pushed to branch {self.branch}" if self.branch else ""
            lines.append(f"git: committed {self.commit[:12]}{where}")
        lines += [f"git error: {problem}" for problem in self.problems]
        return lines


class GitRun:
    """Git for one run of the sync on one charter checkout."""

    def __init__(self, config: SyncConfig, settings: GitSettings, git: Git, day: date) -> None:
        self.config = config
        self.settings = settings
        self.git = git
        self.day = day
        self.outcome = GitOutcome()
        self.charter = git.relative(config.charter)
        self.state = git.relative(config.state_path)

    @classmethod
    def start(cls, config: SyncConfig, *, day: date) -> GitRun | None:
        """Before the run reads the charter: deliver what an earlier run left, then fast-forward.

        None when the configuration has no ``git:`` section. Raises CheckoutRefused when the run
        must not start; a failed fetch or fast-forward is recorded, and the run goes on from the
        checkout as it is.
        """
        settings = config.git
        if settings is None:
            return None
        # Under the charter lock: no other run reads or writes the charter while git moves it.
        with charter_lock(config.charter, config.lock_timeout_seconds):
            try:
                git = Git.containing(settings.repository or config.charter)
                run = cls(config, settings, git, day)
                run._deliver_leftovers()
            except GitError as exc:
                raise CheckoutRefused(f"git: {exc}") from None
            if settings.update_before_run:
                try:
                    run._fast_forward()
                except GitError as exc:
                    run.outcome.problems.append(str(exc))
        return run

    def finish(self, report: SyncReport) -> GitOutcome:
        """After the pull: commit the charter and its state file if the run changed them (and
        push the commit to the day's branch)."""
        if report.dry_run:
            return self.outcome
        scores = adopted_scores(self.config, report) if self.settings.deliver != "none" else {}
        message = commit_message(report, charter=self.charter, day=self.day, scores=scores)
        try:
            with charter_lock(self.config.charter, self.config.lock_timeout_seconds):
                self._deliver(message)
        except (GitError, CharterLocked) as exc:
            self.outcome.problems.append(str(exc))
        return self.outcome

    # Before the run --------------------------------------------------------------------------

    def _deliver_leftovers(self) -> None:
        pending = self._read_pending()
        changed = self.git.changed(self._paths())
        digest = self._digest(self.charter)
        if self.charter in changed and (
            digest is None or pending.files.get(self.charter) != digest
        ):
            root = self.git.root
            raise CheckoutRefused(
                f"git: {self.charter} in {root} has changes prompt-sync did not make; commit them "
                f"(`git -C {root} commit -- {self.charter}`) or discard them "
                f"(`git -C {root} checkout -- {self.charter}`), then run again"
            )
        # What is left is the tool's own: its earlier output, or its state file.
        if changed or pending.unpushed:
            self._deliver(pending.message or pending_message(self.charter, self.day))

    def _fast_forward(self) -> None:
        root, remote = self.git.root, self.settings.remote
        branch = self.git.current_branch()
        base = self.settings.base_branch or branch
        if branch != base:
            raise GitError(
                f"the checkout {root} is on branch {branch}, not {base}",
                hint=f"git -C {root} checkout {base}",
            )
        fetched = self.git.fetch(remote, base)
        head = self.git.head()
        if head == fetched:
            return
        if self.git.is_ancestor(head, fetched):
            self.git.fast_forward(fetched, hint=f"git -C {root} merge --ff-only {remote}/{base}")
            self.outcome.updated_to = fetched
            return
        foreign = self.git.commits_between(fetched, head, without=TRAILER)
        ahead = self.git.is_ancestor(fetched, head)
        if ahead and not foreign:
            return  # ahead only by the tool's own deliveries, waiting to be merged
        upstream = f"{remote}/{base}"
        # Diverged only because the team's branch moved while the tool's own deliveries wait for
        # review: merge it in (as GitHub's "update branch" does), so the team's edits reach Opik
        # tonight and the day's branch still only moves forward.
        message = f"Merge {upstream} into the checkout before the sync\n\n{TRAILER}\n"
        if not foreign and self.git.merge(fetched, message, self._author()):
            self.outcome.updated_to, self.outcome.merged = fetched, True
            return
        if ahead:
            # Someone's commits: the day's branch would carry them into the team's review.
            raise GitError(
                f"the checkout {root} ({base}) has {len(foreign)} commit(s) that are not in "
                f"{upstream} and not prompt-sync's; deliver them to {upstream} or move them off "
                f"{base}; this run used the charter as checked out",
                hint=f"git -C {root} log --oneline {upstream}..HEAD",
            )
        raise GitError(
            f"can't fast-forward {root} ({base}) to {upstream}: the checkout has diverged from "
            f"it (see `git -C {root} log --oneline {upstream}...HEAD`); this run used the charter "
            "as checked out",
            hint=f"git -C {root} pull --rebase {remote} {base}",
        )

    # After the run ---------------------------------------------------------------------------

    def _deliver(self, message: str) -> None:
        deliver = self.settings.deliver
        changed = self.git.changed(self._paths())
        if deliver == "none":
            if changed:
                self._write_pending(_Pending(files=self._digests(changed)))
            return
        pending = self._read_pending()
        if changed:
            try:
                self.outcome.commit = self.git.commit(changed, message, self._author())
            except GitError as exc:
                self.outcome.problems.append(str(exc))
                self._write_pending(_Pending(files=self._digests(changed), message=message))
                return
        elif not pending.unpushed:
            return
        if deliver == "branch":
            self._push()
        else:
            self._clear_pending()

    def _push(self) -> None:
        branch = self.settings.branch.format(date=self.day.isoformat())
        head = self.git.head()
        try:
            self._refuse_foreign_commits()
            self.git.push(self.settings.remote, head, branch)
        except GitError as exc:
            self.outcome.problems.append(str(exc))
            self._write_pending(_Pending(unpushed=True))
            return
        self._clear_pending()
        self.outcome.commit = head
        self.outcome.branch = branch
        web = self._web_url()
        if web:
            gitlab = "/-" if "gitlab" in web else ""
            self.outcome.commit_url = f"{web}{gitlab}/commit/{head}"
            self.outcome.branch_url = f"{web}{gitlab}/tree/{branch}"

    def _refuse_foreign_commits(self) -> None:
        """The day's branch carries only the tool's commits on top of the base branch."""
        upstream = (
            f"{self.settings.remote}/{self.settings.base_branch or self.git.current_branch()}"
        )
        if not self.git.succeeds("rev-parse", "--verify", "--quiet", f"refs/remotes/{upstream}"):
            return  # never fetched: the push itself says what is wrong
        foreign = self.git.commits_between(upstream, "HEAD", without=TRAILER)
        if foreign:
            raise GitError(
                f"not pushed: {self.git.root} has {len(foreign)} commit(s) that are neither in "
                f"{upstream} nor prompt-sync's, and the day's branch must not carry them; the "
                "pull is committed in the checkout and is pushed by the first run after they "
                "are sorted out",
                hint=f"git -C {self.git.root} log --oneline {upstream}..HEAD",
            )

    def _author(self) -> tuple[str, str] | None:
        author = self.settings.author
        return (author.name, author.email) if author else None

    def _web_url(self) -> str | None:
        try:
            return web_url(self.git.remote_url(self.settings.remote))
        except GitError:
            return None

    # The charter's files and the pending record -----------------------------------------------

    def _paths(self) -> list[str]:
        return [self.charter, self.state]

    def _digest(self, path: str) -> str | None:
        file = self.git.root / path
        return hashlib.sha256(file.read_bytes()).hexdigest() if file.exists() else None

    def _digests(self, paths: list[str]) -> dict[str, str]:
        return {path: self._digest(path) or "" for path in paths}

    def _pending_path(self) -> Path:
        path = Path(self.git.run("rev-parse", "--git-path", PENDING_FILE, what="find .git"))
        return path if path.is_absolute() else self.git.root / path

    def _read_pending(self) -> _Pending:
        path = self._pending_path()
        try:
            return _Pending.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _Pending()
        except (OSError, ValidationError):
            return _Pending()  # unreadable: treat as nothing pending, so edits are refused

    def _write_pending(self, pending: _Pending) -> None:
        self._pending_path().write_text(json.dumps(pending.model_dump(), indent=2) + "\n")

    def _clear_pending(self) -> None:
        self._pending_path().unlink(missing_ok=True)


def web_url(remote_url: str) -> str | None:
    """The repository's page for a GitHub/GitLab HTTPS remote (credentials removed), else None."""
    match = re.match(
        r"^https://((?:[\w.-]+\.)?(?:github|gitlab)\.[\w.-]+(?::\d+)?/.+?)(?:\.git)?/?$",
        redact(remote_url),
    )
    return f"https://{match.group(1)}" if match else None
