"""What ``promote`` and ``rollback`` were asked, from the command line's options, a Dagster op's
run config or the auto gate alike; ``Releaser.carry_out`` does it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Promotion:
    """``promote``'s options (None: the configuration's ``promotion:`` value)."""

    composite: str
    environment: str | None = None
    version: str | None = None  # None: the charter's current composite
    metric: str | None = None
    min_delta: float | None = None
    gate: str | None = None
    level: float | None = None
    min_items: int | None = None
    force: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class Rollback:
    """``rollback``'s options: with ``environment``, move it back (to ``to``, else where it
    pointed before the last promotion); without, restore ``to`` (else the previous version)."""

    composite: str
    to: str | None = None
    environment: str | None = None
    dry_run: bool = False
