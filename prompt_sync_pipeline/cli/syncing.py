"""``pull``, ``push``, ``sync`` and ``plan``: one run of the engine, with git around it."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Literal

from ..delivery import GitOutcome, start_git_run
from ..errors import ExitCode
from ..opik.project import OpikProject
from ..sync import resolutions
from ..sync.config import load_config
from ..sync.engine import run_sync
from .output import print_report, progress_printer
from .session import Session

SyncCommand = Literal["pull", "push", "sync", "plan"]


def run(
    session: Session,
    command: SyncCommand,
    *,
    keep_charter: Sequence[str] = (),
    keep_opik: Sequence[str] = (),
    use_git: bool = False,
    rebuild_state: bool = False,
) -> int:
    config = load_config(session.config_path)
    session.journal.watch(config.charter, config.state_path)
    keep = resolutions.parse(config, charter=keep_charter, opik=keep_opik)
    git = start_git_run(config) if use_git else None
    with OpikProject.connect(config.opik) as opik:
        session.journal.connected(opik)
        report = run_sync(
            config,
            pull=command in ("pull", "sync", "plan"),
            push=command in ("push", "sync", "plan"),
            dry_run=command == "plan",
            keep=keep,
            progress=progress_printer(),
            fixes=session.fixes,
            rebuild_state=rebuild_state,
            opik=opik,
        )
    # After the sync's own work: a git failure loses nothing, it only fails the run.
    delivered = git.finish(report) if git else None
    if session.as_json:
        result = report.to_json()
        if delivered:
            result["git"] = delivered.to_json()
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print_report(report, sys.stdout, show_diffs=command == "plan")
        _print_git(delivered)
    return ExitCode.FAILED if report.failed or (delivered and delivered.problems) else ExitCode.OK


def _print_git(outcome: GitOutcome | None) -> None:
    for line in outcome.lines() if outcome else []:
        print(line, file=sys.stderr if line.startswith("git error") else sys.stdout)
