"""One command's run: its ``--config`` and ``--json`` (given before or after the command), and
how it ends when it can't finish.

Every error is one line on stderr (``prompt-sync: ...``), never a traceback (unless
``PROMPT_SYNC_DEBUG=1``); with ``--json`` stdout also gets one JSON object, ``{"error",
"exit_code", "hint", "written"}``, so a script never reads empty output. The exit code follows
the error's kind (``errors.ExitCode``): only a ``UsageError`` is 2; anything unexpected is an
internal error (1), reported with what the run had written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from types import UnionType
from typing import TYPE_CHECKING, Any

from ..errors import ExitCode, Refused, RunStopped, UsageError
from .journal import Journal

if TYPE_CHECKING:
    from ..sync.messages import Fixes, Hint


class Session:
    def __init__(self, config_path: str | None = None, as_json: bool = False) -> None:
        self.config_path = config_path
        self.as_json = as_json
        self.command = ""
        self.journal = Journal()

    def use(self, config_path: str | None, as_json: bool) -> Session:
        """The options given after the command: ``prompt-sync sync --config X --json``."""
        if config_path is not None:
            self.config_path = config_path
        self.as_json = self.as_json or as_json
        return self

    @property
    def fixes(self) -> Fixes:
        """The command prefix for every fix-it command this run prints (with its --config)."""
        from ..sync.messages import Fixes

        return Fixes.for_config(self.config_path)

    def run(self, command: str, body: Callable[[], int]) -> int:
        """``body``'s exit status, or the status of the error that ended it, worded."""
        self.command = command
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        try:
            return int(body())
        except BrokenPipeError:
            return reader_gone()
        except KeyboardInterrupt as exc:
            return self._interrupted(exc)
        except Exception as exc:
            return self._failed(exc)

    def fail(
        self,
        message: str,
        code: ExitCode,
        hint: str,
        *,
        error: BaseException | None = None,
        details: Sequence[str] = (),
        tail: str = "",
        **extra: Any,
    ) -> int:
        """Print one error line, ``message`` and ``tail`` (a check's ``details`` below it), and
        with ``--json`` one JSON object on stdout; return ``code``."""
        print(f"prompt-sync: {message}{tail}", file=sys.stderr)
        for line in details:
            print(f"  {line}", file=sys.stderr)
        if error is not None and debugging():
            traceback.print_exception(error, file=sys.stderr)
        if self.as_json:
            result = {"error": message, "exit_code": int(code), "hint": hint, **extra}
            print(json.dumps(result, indent=2, ensure_ascii=False))
        return code

    def _interrupted(self, exc: KeyboardInterrupt) -> int:
        from ..sync import messages

        written = self.journal.written()
        again = self.fixes.command(self.command)
        return self.fail(
            messages.interrupted(written, again),
            ExitCode.INTERRUPTED,
            messages.hint("interrupted", self.fixes, self.command),
            error=exc,
            written=written,
        )

    def _failed(self, exc: Exception) -> int:
        from ..opik.errors import OpikError
        from ..sync import messages

        written = self.journal.written()
        if isinstance(exc, UsageError | Refused | RunStopped | OpikError):
            code = ExitCode.USAGE if isinstance(exc, UsageError) else ExitCode.FAILED
            message = " ".join(str(exc).splitlines())
            if written:
                message += f"; {messages.written_before(written)}"
            kind = _hint_kind(exc)
        else:
            code, message, kind = ExitCode.FAILED, messages.internal_error(exc, written), "internal"
        hint = messages.hint(kind, self.fixes, self.command)
        return self.fail(message, code, hint, error=exc, written=written)


def reader_gone() -> int:
    """``prompt-sync plan | head`` ends quietly, as Unix tools do when the reader goes away:
    no traceback, exit status 141 (128 + SIGPIPE) like a process the signal ended."""
    # Python flushes stdout again at exit; point it at /dev/null so that stays quiet too.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return ExitCode.BROKEN_PIPE


def debugging() -> bool:
    """``PROMPT_SYNC_DEBUG=1``: errors also print their traceback."""
    from ..sync.messages import DEBUG_VAR

    return os.environ.get(DEBUG_VAR, "") not in ("", "0")


def _hint_kind(exc: Exception) -> Hint:
    from ..delivery.runs import CheckoutRefused
    from ..opik.errors import OpikAddressError
    from ..performance.engine import UnknownPrompt
    from ..promotion.models import ReleaseUsageError
    from ..sync.charter import CharterError, CharterLocked, CharterReadOnly
    from ..sync.config import ConfigError
    from ..sync.resolutions import ResolutionError
    from ..sync.state import StateError

    kinds: list[tuple[type[Exception] | UnionType, Hint]] = [
        (CharterLocked, "lock"),
        (CharterReadOnly, "read-only"),
        (CharterError, "charter"),
        (ConfigError, "config"),
        (OpikAddressError, "config"),
        (StateError, "state"),
        (CheckoutRefused, "checkout"),
        (ResolutionError | ReleaseUsageError | UnknownPrompt, "names"),
        (UsageError, "input"),
        (Refused, "refused"),
        (RunStopped, "write"),
    ]
    return next((kind for cls, kind in kinds if isinstance(exc, cls)), "opik")
