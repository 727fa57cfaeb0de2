"""The three-way decision, as pure functions: the contract's table, row by row.

Per part of a composite, with L = the charter, R = Opik's version and B = the base (the last
content this copy of the charter agreed with Opik):

| case                         | decision                                                 |
| ---------------------------- | -------------------------------------------------------- |
| R equals L                   | nothing to do                                            |
| L equals B, R differs        | ``adopt``: Opik changed it                               |
| R equals B, L differs        | ``keep_local``: the charter changed it (the push sends it) |
| L, R, B all differ           | ``conflict``                                             |
| no base, L differs from R    | ``conflict``, or the side ``first_contact`` names        |

On top: the template type is content too (``decide_type``), a shared prompt is adopted only when
every composite that changed it agrees (``agree_on_shared_parts``), a type switch only when every
composite connected to it shows it (``settle_types``), and a malformed composite adopts nothing
(``classify``). Nothing here does I/O: the inputs are values, and importing this module pulls in
no SDK, HTTP client or Dagster (``prompt_sync_tests/test_decide.py`` checks both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from . import composites as comp
from . import messages
from .composites import MalformedComposite, Parts, TemplateType
from .resolutions import Resolutions

Decision = Literal["adopt", "keep_local", "conflict"]
FirstContact = Literal["conflict", "charter", "opik"]
FailureKind = Literal["failed", "malformed", "conflict"]
# The role of the PartChange that carries a composite's type decision (beside system and user).
TYPE_ROLE = "type"
NO_BASE = (
    "no base: the charter and Opik differ and prompt-sync never recorded a version both agreed on"
)


@dataclass(frozen=True)
class Base:
    """The last agreement on a composite: the version, and a hash of each part as agreed."""

    version_id: str
    label: str
    template_type: str | None
    hashes: Mapping[str, str]  # role -> text_sha256 of the part

    def has(self, role: str, text: str) -> bool:
        return self.hashes.get(role) == comp.text_sha256(text, self.template_type or "mustache")


@dataclass(frozen=True)
class Remote:
    """Opik's version of a composite, as the decision sees it."""

    version_id: str
    label: str
    template_type: str | None
    parts: Parts | None  # None when it can't be split into the charter's parts
    problem: str = ""  # why it can't be split
    recorded: bool = False  # carries a genuine provenance record of prompt-sync's


@dataclass
class PartChange:
    """A part of a composite whose Opik text differs from the charter's, and what to do about it."""

    composite: str
    role: str
    prompt: str
    decision: Decision
    local: str
    remote: str
    remote_label: str
    why: str = ""


@dataclass(frozen=True)
class PullFailure:
    """A composite the pull could not take: unreadable, malformed, or in a write race."""

    kind: FailureKind
    reason: str


@dataclass
class SharedOutcome:
    """What the pull adopts per prompt, and the prompts in conflict with their changes."""

    adoptions: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, list[PartChange]] = field(default_factory=dict)


def classify(
    composite: str,
    parts: Mapping[str, str],
    local: Parts,
    local_type: str,
    remote: Remote,
    base: Base | None,
    keep: Resolutions,
    first_contact: FirstContact,
) -> list[PartChange] | PullFailure:
    """The composite's differing parts with a decision each, or why nothing can be taken from it.

    ``parts`` maps each role to the charter prompt that fills it. Malformed wins over every
    decision: a part that may come from Opik (adopted now, or later by resolving a conflict)
    must keep the charter's template variables, in Opik's template type.
    """
    if keep.for_composite(composite) == "charter":
        return []  # resolved by hand: the rebuild from the charter replaces Opik's version
    if remote.parts is None:
        return PullFailure("malformed", f"{remote.label}: {remote.problem}")
    changes: list[PartChange] = []
    for role, prompt in parts.items():
        if remote.parts[role] == local[role]:
            continue
        change = PartChange(
            composite, role, prompt, "conflict", local[role], remote.parts[role], remote.label
        )
        change.decision, change.why = _resolved_part(change, remote, base, keep, first_contact)
        changes.append(change)
    if remote.template_type != local_type:
        changes.append(decide_type(composite, parts, local_type, remote, base, keep, first_contact))
    for change in changes:
        if change.decision == "keep_local" or change.role == TYPE_ROLE:
            continue
        try:
            problem = comp.variable_change(
                change.role, change.remote, change.local, remote.template_type or local_type
            )
        except MalformedComposite as exc:
            problem = f"the charter's {change.prompt!r} as {remote.template_type}: {exc}"
        if problem:
            return PullFailure("malformed", f"{remote.label}: {problem}")
    return changes


def decide_part(
    role: str,
    local: str,
    remote_text: str,
    remote: Remote,
    base: Base | None,
    first_contact: FirstContact,
) -> tuple[Decision, str]:
    """One part that differs between the charter (``local``) and Opik: the table above."""
    if base is None:
        if first_contact == "conflict":
            return "conflict", NO_BASE
        side: Decision = "keep_local" if first_contact == "charter" else "adopt"
        return side, f"first contact: configuration trusts the {first_contact}"
    if behind_base(remote, base):
        return "keep_local", "the pull environment points to a version synced before the base"
    if base.has(role, local):
        return "adopt", f"changed in Opik since {base.label}"
    if base.has(role, remote_text):
        return "keep_local", "changed in the charter since the last sync"
    return "conflict", f"changed in both the charter and Opik since {base.label}"


def _resolved_part(
    change: PartChange,
    remote: Remote,
    base: Base | None,
    keep: Resolutions,
    first_contact: FirstContact,
) -> tuple[Decision, str]:
    """``decide_part``, unless the user chose a side for this prompt or composite."""
    chosen = keep.winner(change.prompt)
    if keep.for_prompt(change.prompt) == "charter":
        return "keep_local", "resolved by hand: keep the charter's text"
    if chosen == change.composite:
        return "adopt", f"resolved by hand: keep Opik's text from {chosen}"
    if chosen is not None:
        # Another composite's version wins; the push replaces this one (kept in history).
        return "keep_local", f"resolved by hand: Opik's text from {chosen} wins"
    decision, why = decide_part(
        change.role, change.local, change.remote, remote, base, first_contact
    )
    # Keeping Opik's text settles a conflict; a part Opik never changed stays as is.
    if decision == "conflict" and keep.for_prompt(change.prompt) == "opik":
        return "adopt", "resolved by hand: keep Opik's text"
    return decision, why


def decide_type(
    composite: str,
    parts: Mapping[str, str],
    local_type: str,
    remote: Remote,
    base: Base | None,
    keep: Resolutions,
    first_contact: FirstContact,
) -> PartChange:
    """The three-way decision on the composite's template type (settled across composites by
    ``settle_types``); its ``local`` and ``remote`` are the two types."""
    change = PartChange(
        composite,
        TYPE_ROLE,
        parts["system"],
        "conflict",
        local_type,
        str(remote.template_type),
        remote.label,
    )
    kept = {keep.for_prompt(prompt) for prompt in parts.values()}
    if "charter" in kept:
        change.decision = "keep_local"
    elif base is None:
        if first_contact != "conflict":
            change.decision = "keep_local" if first_contact == "charter" else "adopt"
        change.why = "no base: prompt-sync never recorded a version both agreed on"
    elif behind_base(remote, base):
        change.decision = "keep_local"  # the pull environment points to an older synced one
    elif base.template_type == local_type:
        change.decision = "adopt"
    elif base.template_type == remote.template_type:
        change.decision = "keep_local"
    else:
        change.why = f"changed in both the charter and Opik since {base.label}"
    if change.decision == "conflict" and "opik" in kept:
        change.decision = "adopt"
    return change


def behind_base(remote: Remote, base: Base) -> bool:
    """Opik's version is one prompt-sync recorded before the base (ids grow with time): the
    pull environment still points to an older synced version, which is no Opik change."""
    return remote.version_id < base.version_id and remote.recorded


def agree_on_shared_parts(changes: Iterable[PartChange]) -> SharedOutcome:
    """A shared prompt is adopted only when every composite that changed it agrees; composites
    in Opik that disagree on it are a conflict."""
    by_prompt: dict[str, list[PartChange]] = {}
    for change in changes:
        by_prompt.setdefault(change.prompt, []).append(change)
    outcome = SharedOutcome()
    for prompt, found in by_prompt.items():
        proposals = [c for c in found if c.decision == "adopt"]
        conflicts = [c for c in found if c.decision == "conflict"]
        if not conflicts and len({c.remote for c in proposals}) > 1:
            for change in proposals:
                change.decision = "conflict"
                change.why = "composites in Opik disagree on this shared prompt"
            conflicts = proposals
        if conflicts:
            outcome.conflicts[prompt] = [c for c in found if c.decision != "keep_local"]
        elif proposals:
            outcome.adoptions[prompt] = proposals[0].remote
    return outcome


def settle_types(
    changes: list[PartChange],
    failures: dict[str, PullFailure],
    pulled_types: Mapping[str, str | None],
    table: Mapping[str, Mapping[str, str]],
    fixes: messages.Fixes,
) -> tuple[list[PartChange], dict[str, TemplateType]]:
    """Take the type decisions out of ``changes``: the part changes left, and the prompts whose
    type the pull adopts. A switch is adopted only when every composite connected to it through
    shared prompts shows the new type in Opik (``pulled_types``: composite -> type of the pulled
    version, None when not in Opik yet, absent when unread); otherwise its composite fails as
    malformed (added to ``failures``), and nothing is adopted from it."""
    decisions = [c for c in changes if c.role == TYPE_ROLE]
    changes = [c for c in changes if c.role != TYPE_ROLE]
    adoptions: dict[str, TemplateType] = {}
    users = _users(table)
    for change in decisions:
        if change.decision == "keep_local":
            continue  # the charter switched: step 3 pushes the new type
        switch = f"{change.remote_label}: template type changed from {change.local!r} to {change.remote!r}"
        if change.decision == "conflict":
            failures[change.composite] = PullFailure("malformed", f"{switch}, and {change.why}")
            continue
        group = connected_composites(table, users, change.composite)
        behind = sorted(
            name
            for name in group
            if name != change.composite
            and (name in failures or not _shows_type(pulled_types, name, change.remote))
        )
        if behind:
            shared = sorted({p for name in group for p in table[name].values()})
            reason = messages.type_switch_behind(
                switch, change.composite, behind, shared, change.remote, fixes
            )
            failures[change.composite] = PullFailure("malformed", reason)
            continue
        adopted = comp.as_template_type(change.remote)
        for name in group:
            for prompt in table[name].values():
                if adopted is not None:  # else Opik's version was malformed: never here
                    adoptions[prompt] = adopted
    # Malformed wins: nothing at all is adopted from a refused composite.
    return [c for c in changes if c.composite not in failures], adoptions


def connected_composites(
    table: Mapping[str, Mapping[str, str]], users: Mapping[str, Sequence[str]], composite: str
) -> set[str]:
    """The composite and every composite reachable from it through shared prompts."""
    group, todo = {composite}, [composite]
    while todo:
        for prompt in table[todo.pop()].values():
            for other in users.get(prompt, ()):
                if other not in group:
                    group.add(other)
                    todo.append(other)
    return group


def _users(table: Mapping[str, Mapping[str, str]]) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for name, parts in table.items():
        for prompt in parts.values():
            users.setdefault(prompt, []).append(name)
    return users


def _shows_type(pulled_types: Mapping[str, str | None], composite: str, template_type: str) -> bool:
    """A composite not in Opik yet agrees (step 3 creates it with the adopted type); an unread
    one doesn't."""
    if composite not in pulled_types:
        return False
    shown = pulled_types[composite]
    return shown is None or shown == template_type


def first_contact_base(
    recorded: Iterable[Remote], local: Parts, local_type: str, hashes: Mapping[str, str]
) -> Base | None:
    """The base of a composite this copy has no state entry for: the newest recorded version
    (another copy's agreement) whose parts equal this copy's charter, which this copy can vouch
    for. A charter equal to an older one is behind, so Opik's newer text is adopted; with none,
    there is no base. ``recorded`` comes newest first; ``hashes`` are the charter's part hashes."""
    for version in recorded:
        if not version.recorded or version.parts is None:
            continue
        if version.template_type == local_type and version.parts == local:
            return Base(version.version_id, version.label, version.template_type, hashes)
    return None


def may_replace(remote: Remote, base: Base | None, first_contact: FirstContact) -> bool:
    """Whether a push may supersede Opik's current version: only a version both sides agreed on
    (the base, or the same content), or any version when first contact trusts the charter."""
    if base is None:
        return first_contact == "charter"
    if base.version_id == remote.version_id:
        return True
    if remote.parts is None:
        return False
    return remote.template_type == base.template_type and all(
        base.has(role, remote.parts[role]) for role in comp.ROLES
    )
