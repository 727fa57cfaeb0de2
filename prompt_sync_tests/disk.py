"""File-system faults, for the tests of what a run does when it can't write: a read-only
checkout, an immutable file, and the ``os`` module ``sync.atomic`` uses with one call failing
for one file, as the kernel fails it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prompt_sync_tests.services import missing

REMEDY = "run as root (or with passwordless sudo) on a file system with the immutable attribute"


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


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """No write to ``path`` (a file, or a directory's entries) for anyone, root included: the
    file system's immutable attribute (``chattr +i``, through ``sudo -n`` for a user). Running
    as root, chmod stops nothing. Where the tool, sudo, the file system or the container's
    capabilities refuse it, the test is skipped, or fails under CI."""
    chattr = shutil.which("chattr")
    if chattr is None:
        missing("chattr is not installed", REMEDY)
    command = [chattr] if os.geteuid() == 0 else ["sudo", "-n", chattr]
    done = subprocess.run([*command, "+i", str(path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        missing(f"chattr +i was refused here ({done.stderr.strip()})", REMEDY)
    try:
        yield
    finally:
        subprocess.run([*command, "-i", str(path)], check=True)


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """A checkout nobody may write in: chmod for a user, the immutable attribute for root."""
    if os.geteuid() == 0:
        with immutable(directory):
            yield
        return
    mode = directory.stat().st_mode
    directory.chmod(0o555)
    try:
        yield
    finally:
        directory.chmod(mode)
