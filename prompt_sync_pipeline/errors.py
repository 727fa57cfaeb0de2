"""The errors every entry point (the CLI, Dagster) handles the same way, and the exit codes.

Exit status, as the README defines it:

- 0: nothing failed;
- 1: some prompt failed or conflicted, or Opik can't be used (the run says what was written);
- 2: bad input (configuration, charter, state file, flags): nothing was read or changed;
- 130: interrupted (Ctrl-C); 141: the reader of the output went away (``| head``).
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
