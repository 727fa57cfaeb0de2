"""How a sync's report prints for a person (``--json`` prints ``SyncReport.to_json()``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from ..sync.report import SyncReport, render_report


def print_report(report: SyncReport, out: TextIO, *, show_diffs: bool) -> None:
    """One line per prompt and step: the outcome, what it means, the version; then the reasons
    (and with ``show_diffs`` the diffs), the warnings and the six counters. A failed Dagster run
    describes itself with the same lines (``render_report``)."""
    for line in render_report(report, show_diffs=show_diffs):
        print(line, file=out)


def progress_printer() -> Callable[[str, int, int], None] | None:
    """A one-line progress display on a terminal; silent when output is piped or logged."""
    if not sys.stderr.isatty():
        return None

    def show(label: str, done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show
