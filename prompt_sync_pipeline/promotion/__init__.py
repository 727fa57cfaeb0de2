"""Promotion and rollback: move an Opik environment only to a version that won its experiments,
move it back in one step, or restore an earlier version as the newest one."""

from .engine import Releaser
from .models import Comparison, ReleaseRefused, ReleaseResult, ReleaseUsageError, Side, compare

__all__ = [
    "Comparison",
    "ReleaseRefused",
    "ReleaseResult",
    "ReleaseUsageError",
    "Releaser",
    "Side",
    "compare",
]
