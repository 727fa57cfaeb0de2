"""How a sync's report prints for a person (``--json`` prints ``SyncReport.to_json()``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from ..sync.report import STEPS, SyncReport, group_failures, meaning

STEP_TITLES = {"pull": "Pull", "individual": "Individual prompts", "composite": "Composites"}


def print_report(report: SyncReport, out: TextIO, *, show_diffs: bool) -> None:
    """One line per prompt and step: the outcome, what it means, the version; then the reasons
    (and with ``show_diffs`` the diffs), the warnings and the six counters."""
    for step in STEPS:
        actions = report.steps(step)
        if not actions:
            continue
        print(f"{STEP_TITLES[step]}{' (dry run)' if report.dry_run else ''}:", file=out)
        # The same failure on many prompts (e.g. Opik went away) is printed once, with the count.
        shared = {(g.outcome, g.reason): g for g in group_failures(actions) if len(g.subjects) > 1}
        printed: set[tuple[str, str]] = set()
        for action in actions:
            key = (action.outcome, action.reason)
            group = None if action.ok else shared.get(key)
            if group is not None:
                if key in printed:
                    continue  # printed with its group
                printed.add(key)
            mark = " " if action.ok else "!"
            version = f" {action.version}" if action.version else ""
            subject = action.subject
            if group is not None:
                subject = f"{group.count}: {', '.join(group.subjects)}"
            explained = meaning(action.outcome, step, dry_run=report.dry_run)
            print(f" {mark} {action.outcome:<13} {subject}{version}  ({explained})", file=out)
            if action.reason and (not action.ok or step == "pull"):
                for line in action.reason.splitlines():
                    print(f"      {line}", file=out)
            if show_diffs and action.diff:
                for line in action.diff.splitlines():
                    print(f"      {line}", file=out)
    for warning in report.warnings:
        print(f"warning: {warning}", file=out)
    print(report.summary_line(), file=out)


def progress_printer() -> Callable[[str, int, int], None] | None:
    """A one-line progress display on a terminal; silent when output is piped or logged."""
    if not sys.stderr.isatty():
        return None

    def show(label: str, done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show
