"""The commit message that hands a run's pull back to the team: enough to review it from the
message and the diff alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from ..sync.report import SyncReport

# The last line of every commit the tool makes: how a run recognises its own commits.
TRAILER = "Delivered-by: prompt-sync"


def commit_message(
    report: SyncReport,
    *,
    charter: str,
    day: date,
    scores: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Subject, one line per adopted prompt (with its versions' experiment scores when
    ``scores`` has them), the warnings, the six counters and the trailer."""
    adopted = [a for a in report.steps("pull") if a.outcome == "adopted"]
    if adopted:
        noun = "prompt" if len(adopted) == 1 else "prompts"
        subject = f"prompt-sync: adopt {len(adopted)} {noun} from Opik into {charter} ({day})"
    else:
        subject = f"prompt-sync: update the sync state of {charter} ({day})"
    lines = [subject, ""]
    if adopted:
        lines.append("Adopted from Opik (prompt: composite and version it came from):")
        for action in adopted:
            lines.append(f"- {action.subject}: {action.version or action.reason}")
            lines += [f"  {line}" for line in (scores or {}).get(action.subject, [])]
        lines.append("")
    lines += [f"Warning: {warning}" for warning in report.warnings]
    if report.warnings:
        lines.append("")
    pushed = report.steps("individual") or report.steps("composite")
    lines.append("Counters:" if pushed else "Counters (the pushes run after this commit):")
    lines.append(report.summary_line())
    lines += ["", TRAILER]
    return "\n".join(lines) + "\n"


def pending_message(charter: str, day: date) -> str:
    """For output an earlier run left uncommitted, whose report is gone."""
    return (
        f"prompt-sync: changes an earlier run left in {charter} ({day})\n\n"
        "An earlier run left these files uncommitted: a commit that failed, or the state its\n"
        "pushes recorded after its commit (Dagster commits after the pull). Its report (the\n"
        "Dagster run or the CLI's output) has the details.\n\n"
        f"{TRAILER}\n"
    )
