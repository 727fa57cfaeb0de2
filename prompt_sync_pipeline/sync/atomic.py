"""Atomic file replacement: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import RunStopped
from .messages import write_failed


class WriteFailed(RunStopped):
    """The file could not be written (disk full, read-only, immutable): it is as it was."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(write_failed(path, error))
        self.path = path
        self.error = error


def atomic_write_text(
    target: Path, text: str, *, before_replace: Callable[[], None] | None = None
) -> None:
    """Write ``text`` to a temp file beside ``target``, fsync it, rename it over ``target``.

    ``before_replace`` runs last before the rename: an exception from it leaves ``target`` as
    it was (e.g. a check that nobody else changed the file meanwhile). An ``OSError`` (a full
    disk, a read-only directory, an immutable file) leaves ``target`` as it was too, and no
    temp file behind: it is raised as ``WriteFailed``, naming the file and what to do.
    """
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise WriteFailed(target, exc) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(tmp_name, target.stat().st_mode & 0o777)
        if before_replace is not None:
            before_replace()
        os.replace(tmp_name, target)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteFailed(target, exc) from exc
        raise
    _fsync_directory(target.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not all platforms allow opening a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
