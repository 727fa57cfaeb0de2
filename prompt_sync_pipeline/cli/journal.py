"""What a command had written when it ended early (an error, Ctrl-C): the charter's files it
changed, and the write requests it sent to Opik. Every file write is atomic, so each file named
here is whole (old or new), never half."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..opik.project import OpikProject

Stamp = tuple[int, int, int] | None  # inode, modification time, size; None: no such file


class Journal:
    def __init__(self) -> None:
        self._files: dict[Path, Stamp] = {}
        self._opik: OpikProject | None = None

    def watch(self, *paths: Path) -> None:
        """Remember how the files are now (an atomic rewrite gives a file a new inode)."""
        for path in paths:
            self._files.setdefault(path, _stamp(path))

    def connected(self, opik: OpikProject) -> None:
        """Count the write requests sent on this connection."""
        self._opik = opik

    def written(self) -> list[str]:
        """E.g. ``["/x/forseti_charter.json (rewritten)", "2 write requests to Opik"]``."""
        written = []
        for path, before in self._files.items():
            after = _stamp(path)
            if after != before:
                how = "created" if before is None else "deleted" if after is None else "rewritten"
                written.append(f"{path} ({how})")
        writes = self._opik.stats.writes if self._opik is not None else 0
        if writes:
            written.append(f"{writes} write request{'' if writes == 1 else 's'} to Opik")
        return written


def _stamp(path: Path) -> Stamp:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_ino, status.st_mtime_ns, status.st_size)
