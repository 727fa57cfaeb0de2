"""``prompt-sync``: the engineers' command line over the same engine Dagster runs.

- ``app``: the commands, their options and help (click); nothing heavy is imported until a
  command runs, so ``--help``, ``--version`` and ``check`` start at once;
- ``session``: one command's run: its ``--config`` and ``--json``, and how it ends (every
  error one line, or one JSON object, with the README's exit code);
- ``syncing``, ``releasing``, ``checking``: what the commands do; ``output``: how reports print;
  ``journal``: what a run that ended early had written.

Exit status (``errors.ExitCode``): 0 when nothing failed, 1 when any prompt failed or
conflicted, Opik can't be used or the run stopped partway, 2 for bad usage, configuration or
charter (then nothing was changed), 130 interrupted, 141 when the reader of the output went away.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Sequence

from ..errors import ExitCode

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; the exit status. ``argv`` None: this process's own arguments
    (the ``prompt-sync`` program), and an interrupted run then leaves at once."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = _quiet_on_broken_pipe(args)
    except KeyboardInterrupt:  # a second Ctrl-C while the first one was being reported
        status = ExitCode.INTERRUPTED
    if argv is None and status == ExitCode.INTERRUPTED:
        _leave_now(status)
    return status


def _quiet_on_broken_pipe(args: list[str]) -> int:
    """A reader that goes away ends the output quietly (``session.reader_gone``), here too when
    the pipe closes as the last output is flushed."""
    from .app import dispatch
    from .session import reader_gone

    try:
        status = dispatch(args)
        sys.stdout.flush()  # a pipe closed early surfaces here, not at interpreter exit
        return status
    except BrokenPipeError:
        return reader_gone()


def _leave_now(status: int) -> None:
    """After Ctrl-C, a worker may still wait on a request in flight (the workers take no new
    one): the run has said what it wrote, so the process leaves without waiting for it."""
    lingering = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon
    ]
    if lingering:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(status)
