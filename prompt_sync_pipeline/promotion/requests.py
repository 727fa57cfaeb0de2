"""What ``promote`` and ``rollback`` were asked, from the command line's options or a Dagster
op's run config alike: each is called with the ``Releaser`` that carries it out."""

from __future__ import annotations

from dataclasses import dataclass

from .engine import Releaser
from .models import ReleaseResult


@dataclass(frozen=True)
class Promotion:
    """``promote``'s options (None: the configuration's ``promotion:`` default)."""

    composite: str
    environment: str | None = None
    version: str | None = None
    metric: str | None = None
    min_delta: float | None = None
    gate: str | None = None
    level: float | None = None
    min_items: int | None = None
    force: bool = False
    dry_run: bool = False

    def __call__(self, releaser: Releaser) -> ReleaseResult:
        return releaser.promote(
            self.composite,
            self.environment,
            version=self.version,
            metric=self.metric,
            min_delta=self.min_delta,
            force=self.force,
            dry_run=self.dry_run,
            gate=self.gate,
            level=self.level,
            min_items=self.min_items,
        )


@dataclass(frozen=True)
class Rollback:
    composite: str
    to: str | None = None
    environment: str | None = None
    dry_run: bool = False

    def __call__(self, releaser: Releaser) -> ReleaseResult:
        return releaser.rollback(
            self.composite, to=self.to, environment=self.environment, dry_run=self.dry_run
        )
