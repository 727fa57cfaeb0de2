"""How a step fails: with the message the CLI prints, whole, as a ``dg.Failure``.

The UI shows a ``Failure``'s description and metadata as the step's error, and ``run-now``
prints the same description; an exception that escaped would show as a stack trace instead,
with the message cut to its first line. Bad input (configuration, charter, state file, a
resolution naming nothing) is the CLI's exit 2; Opik that can't be used at all is its exit 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg

from ..errors import ExitCode, Refused, RunStopped, UsageError
from ..opik import OpikError
from ..sync.report import SyncReport, render_report

BAD_INPUT = "bad input: nothing was read from Opik or changed"


@contextmanager
def cli_messages() -> Iterator[None]:
    """Turn the errors the CLI reports in one line into the step's ``Failure``."""
    try:
        yield
    except UsageError as exc:
        raise usage_failure(exc) from None
    except (OpikError, Refused, RunStopped) as exc:
        # Opik can't be used or refused a request, a move refused, or a write that failed (a
        # full disk, an immutable charter): what was written stays whole, and the message says
        # what to do; the CLI exits 1 on each.
        raise dg.Failure(
            description=str(exc), metadata={"exit_code": dg.MetadataValue.int(int(ExitCode.FAILED))}
        ) from None


def usage_failure(exc: UsageError) -> dg.Failure:
    return dg.Failure(
        description=str(exc),
        metadata={
            "problem": dg.MetadataValue.text(BAD_INPUT),
            "exit_code": dg.MetadataValue.int(int(ExitCode.USAGE)),
        },
    )


def run_failure(
    job: str,
    report: SyncReport,
    extra: Iterable[str],
    counters: Mapping[str, int],
) -> dg.Failure:
    """The run's failure: what the CLI prints for every prompt that failed (its reasons and fix
    commands, whole), then the other problems (checks, git) and the counters."""
    lines = render_report(report, failures_only=True)
    problems = list(extra)
    count = sum(1 for a in report.actions if not a.ok) + len(problems)
    description = "\n".join(
        [
            f"{job}: {count} problem(s) in this sync run.",
            *lines[:-1],  # the counters line goes last, after the other problems
            *(f"{line}" for line in problems),
            lines[-1],
        ]
    )
    metadata: dict[str, Any] = {k: dg.MetadataValue.int(v) for k, v in counters.items()}
    metadata["exit_code"] = dg.MetadataValue.int(int(ExitCode.FAILED))
    return dg.Failure(description=description, metadata=metadata)
