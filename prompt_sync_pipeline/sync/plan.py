"""The pull's types: what Opik holds for each composite, and what the pull decided about it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..opik.models import RemoteVersion
from .composites import TemplateType
from .config import SyncConfig
from .decide import PartChange, PullFailure


@dataclass
class CompositeRead:
    """What Opik holds for one composite: the version the pull reads and the latest one."""

    name: str
    pulled: RemoteVersion | None = None
    latest: RemoteVersion | None = None
    error: str | None = None


@dataclass
class PullPlan:
    """The pull's decisions: adoptions per prompt, conflicts, and composites it can't take."""

    reads: dict[str, CompositeRead]
    changes: list[PartChange] = field(default_factory=list)
    adoptions: dict[str, str] = field(default_factory=dict)
    type_adoptions: dict[str, TemplateType] = field(default_factory=dict)
    conflicts: dict[str, list[PartChange]] = field(default_factory=dict)
    failures: dict[str, PullFailure] = field(default_factory=dict)

    def blocked_composites(self, config: SyncConfig) -> set[str]:
        """The composites that contain a prompt in conflict: nothing is pushed to them."""
        return {c for prompt in self.conflicts for c in config.composites_using(prompt)}

    def malformed(self, name: str) -> str | None:
        """Why the composite's Opik version can't be split, if that is why it failed."""
        failure = self.failures.get(name)
        return failure.reason if failure and failure.kind == "malformed" else None
