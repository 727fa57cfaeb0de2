"""What the next sync will do after a rollback: the parts of the version rolled back to that differ
from the charter, whether the sync adopts each one, and the composites it then changes.

A rollback gives Opik an older composite version (restored as the newest, or pointed to by the
environment the sync pulls). The sync treats it like any change made in Opik, and so does this
preview: each differing part goes through the sync's own decision (``sync.decide``) against the
same base (the state's entry, else the one first contact finds in Opik). A part the charter still
holds as last agreed is adopted into the charter, and a shared part (the persona) is then pushed
to every composite that uses it, over an earlier ``--keep-opik`` choice, with only a warning. A
part only the charter changed keeps the charter's text; a part both changed is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..opik import RemoteVersion
from ..sync.bases import first_contact_in, remote_of, state_base
from ..sync.charter import load_charter
from ..sync.check import composite_problems
from ..sync.config import SyncConfig
from ..sync.decide import TYPE_ROLE, Decision, PullFailure, behind_base, classify
from ..sync.formatting import indent, version_label
from ..sync.messages import Fixes
from ..sync.resolutions import NONE
from ..sync.state import SyncState


@dataclass(frozen=True)
class PartChange:
    """One message of the version rolled back to that differs from the charter, or its
    template type (role ``type``; ``charter`` and ``rolled_back`` are then the two types)."""

    prompt: str  # the charter's prompt that fills the message (the system one for the type)
    role: str
    charter: str
    rolled_back: str
    decision: Decision  # the sync's: adopt it, keep the charter's text, or a conflict
    why: str
    spreads_to: tuple[str, ...] = ()  # the other composites using the prompt

    @property
    def adopted(self) -> bool:
        return self.decision == "adopt"

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "role": self.role,
            "charter": self.charter,
            "rolled_back": self.rolled_back,
            "decision": self.decision,
            "why": self.why,
            "adopted": self.adopted,
            "spreads_to": list(self.spreads_to),
        }


@dataclass(frozen=True)
class NextSync:
    """What the next sync does with the version a rollback leaves for it."""

    composite: str
    version: str  # the version's label
    pulled: bool  # does the sync read this version at all?
    reason: str = ""  # why not, or why it can't be split
    parts: tuple[PartChange, ...] = field(default_factory=tuple)

    @property
    def changes(self) -> tuple[str, ...]:
        """The composites whose content the next sync changes, this one first: none unless it
        adopts a part (a kept or conflicting part leaves the charter as it is)."""
        if not self.pulled or not any(part.adopted for part in self.parts):
            return ()
        others = sorted({name for part in self.parts if part.adopted for name in part.spreads_to})
        return (self.composite, *(name for name in others if name != self.composite))

    def to_json(self) -> dict[str, Any]:
        return {
            "composite": self.composite,
            "version": self.version,
            "pulled": self.pulled,
            "reason": self.reason or None,
            "parts": [part.to_json() for part in self.parts],
            "changes": list(self.changes),
        }

    def lines(self, fixes: Fixes) -> list[str]:
        """What to tell the user: the differing parts with both texts, and what the sync does."""
        if not self.pulled:
            return [f"the next sync: {self.reason}"]
        if self.reason:
            return [f"the next sync refuses {self.composite} {self.version}: {self.reason}"]
        if not self.parts:
            return [f"the next sync changes nothing: {self.version}'s parts equal the charter's"]
        lines = [f"parts of {self.composite} {self.version} that differ from the charter:"]
        for part in self.parts:
            if part.role == TYPE_ROLE:
                lines.append(
                    f"  the template type of {part.prompt}: the charter has {part.charter}, "
                    f"{self.version} has {part.rolled_back}"
                )
            else:
                lines.append(f"  {part.prompt} ({part.role} message); the charter has:")
                lines.append(indent(part.charter, "      "))
                lines.append(f"    {self.version} has:")
                lines.append(indent(part.rolled_back, "      "))
            because = f" ({part.why})" if part.why else ""
            if part.decision == "conflict":
                lines.append(f"    the next sync reports a conflict on it{because}")
            elif part.decision == "keep_local":
                kept = "type" if part.role == TYPE_ROLE else "text"
                lines.append(f"    the next sync keeps the charter's {kept}{because}")
        adopted = [p for p in self.parts if p.adopted]
        if adopted:
            names = ", ".join(p.prompt for p in adopted)
            lines.append(
                f"the next sync writes {names} from {self.version} into the charter and changes "
                f"these composites: {', '.join(self.changes)}"
            )
        for part in adopted:
            if part.spreads_to:
                lines.append(
                    f"warning: {part.prompt} is shared: the next sync spreads {self.version}'s "
                    f"text to {', '.join(part.spreads_to)}, over any earlier `--keep-opik` "
                    f"choice for it (the sync only warns); to keep the charter's text, run "
                    f"{fixes.keep_charter(part.prompt)} after the rollback"
                )
        return lines


def next_sync(
    config: SyncConfig,
    composite: str,
    version: RemoteVersion,
    state: SyncState | None,
    history: list[RemoteVersion],
    *,
    environment: str | None,
) -> NextSync:
    """What the next sync does once ``version`` is what it reads of ``composite`` (the latest
    version without ``environment``; the environment's with it). ``history``: the composite's
    versions in Opik, newest first."""
    label = version_label(version)
    pull_environment = config.opik.pull_environment
    if environment is None and pull_environment:
        reason = (
            f"it reads the version {pull_environment} points to, not the latest: this restore "
            "changes nothing for it until that environment moves"
        )
        return NextSync(composite, label, False, reason)
    if environment is not None and environment != pull_environment:
        reads = f"the version {pull_environment} points to" if pull_environment else "the latest"
        reason = f"it reads {reads}, not {environment}'s: this move changes nothing for it"
        return NextSync(composite, label, False, reason)
    charter = load_charter(config.charter)
    spec = config.composites[composite]
    problems = composite_problems({composite: spec}, charter)
    if problems:
        return NextSync(composite, label, True, "; ".join(problems))
    local = charter.parts(spec.system_prompt, spec.user_prompt)
    local_type = charter[spec.system_prompt].type
    entry = state.composites.get(composite) if state is not None else None
    base = state_base(entry) if entry is not None else first_contact_in(history, local, local_type)
    remote = remote_of(version)
    if environment is None:
        # Restored as a new version: one prompt-sync never recorded, newer than any base.
        remote = replace(remote, recorded=False)
    if environment is not None and base is not None and behind_base(remote, base):
        reason = (
            f"{environment} now points to a version prompt-sync synced before this copy's last "
            f"agreement ({base.label}), which the sync does not take for a change in Opik: the "
            "charter keeps its text (restore the version as the newest with `rollback` without "
            "--environment to bring it back into the charter)"
        )
        return NextSync(composite, label, False, reason)
    decided = classify(
        composite, spec.parts(), local, local_type, remote, base, NONE, config.first_contact
    )
    if isinstance(decided, PullFailure):
        return NextSync(composite, label, True, decided.reason.removeprefix(f"{remote.label}: "))
    parts = tuple(
        PartChange(
            change.prompt,
            change.role,
            change.local,
            change.remote,
            change.decision,
            change.why,
            tuple(c for c in config.composites_using(change.prompt) if c != composite),
        )
        for change in decided
    )
    return NextSync(composite, label, True, parts=parts)
