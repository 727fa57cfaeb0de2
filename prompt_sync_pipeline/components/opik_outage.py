"""When a step fails instead of materializing: Opik could not be read or written at all.

A prompt that fails among others that went through is reported in the step's metadata and the
run fails in its last step (see ``assets``). But when every Opik request of a step failed
(Opik down, a wrong API key, a burst of 503s that outlasted the retries), nothing of the asset
happened: the step fails (``dg.Failure``) naming Opik's answer, so the UI never shows a green
materialization, and no check, for work that did not happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import dagster as dg

from prompt_sync_pipeline.sync.plan import CompositeRead
from prompt_sync_pipeline.sync.report import Action

# Outcomes of actions that never reached Opik (a conflict upstream held them back).
NOT_ATTEMPTED = {"blocked"}
SHOWN_ERRORS = 3


def unread_composites(reads: Mapping[str, CompositeRead]) -> dict[str, str]:
    """Composite → why Opik could not be read for it."""
    return {name: read.error for name, read in reads.items() if read.error}


def nothing_read(reads: Mapping[str, CompositeRead]) -> dg.Failure | None:
    """The step's failure when no composite could be read from Opik."""
    errors = unread_composites(reads)
    if not reads or len(errors) < len(reads):
        return None
    return dg.Failure(
        description=f"Opik could not be read: none of the {len(reads)} composites was read.\n"
        + _causes(errors.values()),
        metadata={"composites_unread": dg.MetadataValue.int(len(errors))},
    )


def nothing_synced(actions: Iterable[Action], what: str) -> dg.Failure | None:
    """The step's failure when every prompt it tried to sync with Opik failed."""
    attempted = [a for a in actions if a.outcome not in NOT_ATTEMPTED]
    failed = [a for a in attempted if a.outcome == "failed"]
    if not attempted or len(failed) < len(attempted):
        return None
    return dg.Failure(
        description=f"Opik could not be synced: all {len(failed)} {what} failed.\n"
        + _causes(a.reason for a in failed),
        metadata={"failed": dg.MetadataValue.int(len(failed))},
    )


def _causes(errors: Iterable[str]) -> str:
    """Opik's distinct answers, most frequent first, with what to check for the usual ones."""
    counts: dict[str, int] = {}
    for error in errors:
        line = error.splitlines()[0] if error else "no reason given"
        counts[line] = counts.get(line, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    lines = [f"- {error}" + (f" (x{n})" if n > 1 else "") for error, n in ranked[:SHOWN_ERRORS]]
    if len(ranked) > SHOWN_ERRORS:
        lines.append(f"- and {len(ranked) - SHOWN_ERRORS} other error(s)")
    hint = _hint(" ".join(counts))
    return "\n".join(lines) + (f"\n{hint}" if hint else "")


def _hint(errors: str) -> str:
    if "answered 401" in errors or "answered 403" in errors:
        return "Check OPIK_API_KEY and OPIK_WORKSPACE where the runs start."
    if "unreachable" in errors:
        return "Check OPIK_URL_OVERRIDE and that Opik is up."
    return ""
