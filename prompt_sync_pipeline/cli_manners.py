"""Command-line manners every Unix tool has: unknown options named, quiet on a closed pipe."""

from __future__ import annotations

import argparse
import difflib
import functools
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., int])


class StrictArgumentParser(argparse.ArgumentParser):
    """Names an unknown option (with a close match) before complaining that COMMAND is missing.

    argparse checks required arguments before unknown ones, so ``prompt-sync --bogus`` used to
    say "required: COMMAND" and never mention ``--bogus``.
    """

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> argparse.Namespace:
        argv = list(sys.argv[1:] if args is None else args)
        options = self._all_options()
        for arg in argv:
            if arg == "--":
                break
            if arg.startswith("--") and arg.split("=", 1)[0] not in options:
                self.error(_unknown_message(arg, options))
        return super().parse_args(argv, namespace)

    def _all_options(self) -> set[str]:
        options = set(self._option_string_actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    options |= set(sub._option_string_actions)
        return options


def _unknown_message(arg: str, options: set[str]) -> str:
    name = arg.split("=", 1)[0]
    close = difflib.get_close_matches(name, sorted(options), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown option {name}{hint}; see prompt-sync --help"


def quiet_on_broken_pipe(main: F) -> F:
    """``prompt-sync plan | head`` ends quietly, as Unix tools do when the reader goes away:
    no traceback, exit status 141 (128 + SIGPIPE) like a process the signal ended."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            status = main(*args, **kwargs)
            sys.stdout.flush()  # a pipe closed early surfaces here, not at interpreter exit
            return status
        except BrokenPipeError:
            # Python flushes stdout again at exit; point it at /dev/null so that stays quiet too.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 128 + signal.SIGPIPE

    return wrapper  # type: ignore[return-value]
