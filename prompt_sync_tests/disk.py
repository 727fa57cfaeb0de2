"""File-system faults as the kernel raises them, for the tests of what a run does when a write
fails: the ``os`` module ``sync.atomic`` uses, with one call failing for one file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class FailingOs:
    """``os`` as ``sync.atomic`` sees it, with one call failing for one file, as the kernel
    fails it: ``fsync`` of the temp file beside ``target`` (a full disk shows at the write or
    the flush to disk), or the ``replace`` over ``target`` (an immutable file)."""

    def __init__(self, call: str, error: int, target: Path) -> None:
        self.call, self.error, self.target = call, error, target
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def _fail(self, path: object) -> None:
        self.failed += 1
        raise OSError(self.error, os.strerror(self.error), str(path))

    def fsync(self, fd: int) -> None:
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if self.call == "fsync" and name.startswith(f".{self.target.name}."):
            self._fail(name)
        os.fsync(fd)

    def replace(self, source: str, target: str | Path) -> None:
        if self.call == "replace" and Path(target) == self.target:
            self._fail(target)
        os.replace(source, target)
