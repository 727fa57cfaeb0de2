"""The errors every entry point (the CLI, Dagster) handles the same way, and the exit codes.

Exit status, as the README defines it:

- 0: nothing failed;
- 1: some prompt failed or conflicted, Opik can't be used, a move was refused, or the run
  stopped partway (it says what it had written; every file write is atomic);
- 2: bad input (configuration, charter, state file, flags): nothing was read or changed;
- 130: interrupted (Ctrl-C); 141: the reader of the output went away (``| head``).

Anything else raised during a run is a bug: the CLI names it as an internal error (exit 1).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130
    BROKEN_PIPE = 141


class UsageError(Exception):
    """Bad input, found before anything was read from Opik or written: exit 2.

    Only validation errors derive from it, so a bug raised in the middle of a run is never
    reported as "nothing was changed".
    """


class Refused(Exception):
    """The command can't do what was asked and says why (e.g. a promotion its experiments
    don't support): exit 1. Nothing was changed."""


class RunStopped(Exception):
    """The run could not go on (e.g. a file it must write can't be written): exit 1. What it
    had written before stays, whole; the message says what to do."""
