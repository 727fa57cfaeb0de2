"""Template-type switches made in Opik (mustache <-> jinja2).

The type is part of a version's content, like its messages: a switch in Opik is an Opik change.
But a composite's two parts must share one type, and a shared part lives in several composites,
so a switch is adopted only when every composite connected to it through shared parts shows the
same new type in Opik; otherwise it is refused with the reason, never reported "unchanged" and
never pushed over.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from .charter import TemplateType
from .config import SyncConfig

if TYPE_CHECKING:
    from .engine import PartChange, PullPlan

# The role of the PartChange that carries a composite's type decision (beside system and user).
TYPE_ROLE = "type"


def settle(plan: PullPlan, config: SyncConfig) -> None:
    """Take the type decisions out of ``plan.changes``: adopt the consistent ones into
    ``plan.type_adoptions``, turn the others into failures of their composites."""
    decisions = [c for c in plan.changes if c.role == TYPE_ROLE]
    plan.changes = [c for c in plan.changes if c.role != TYPE_ROLE]
    for change in decisions:
        if change.decision == "keep_local":
            continue  # the charter switched: step 3 pushes the new type
        if change.decision == "conflict":
            _refuse(plan, change.composite, f"{_switch(change)}, and {change.why}")
            continue
        group = connected_composites(config, change.composite)
        behind = sorted(
            name
            for name in group
            if name != change.composite and not _shows_type(plan, name, change.remote)
        )
        if behind:
            shared = sorted({p for name in group for p in config.composites[name].parts().values()})
            _refuse(
                plan,
                change.composite,
                f"{_switch(change)}, but {', '.join(behind)} (sharing "
                f"{', '.join(shared)}) {'is' if len(behind) == 1 else 'are'} not "
                f"{change.remote!r} in Opik: switch every one of them in Opik, or keep the "
                f"charter's type with `prompt-sync sync --keep-charter {change.composite}`",
            )
            continue
        for name in group:
            for prompt in config.composites[name].parts().values():
                plan.type_adoptions[prompt] = cast(TemplateType, change.remote)


def connected_composites(config: SyncConfig, composite: str) -> set[str]:
    """The composite and every composite reachable from it through shared prompts."""
    group, todo = {composite}, [composite]
    while todo:
        for prompt in config.composites[todo.pop()].parts().values():
            for other in config.composites_using(prompt):
                if other not in group:
                    group.add(other)
                    todo.append(other)
    return group


def _shows_type(plan: PullPlan, composite: str, template_type: str) -> bool:
    """Whether Opik's pulled version of the composite has that type. A composite not in Opik
    yet agrees (step 3 creates it with the adopted type); a failed or malformed one doesn't."""
    read = plan.reads.get(composite)
    if composite in plan.failures or read is None or read.error:
        return False
    return read.pulled is None or read.pulled.type == template_type


def _refuse(plan: PullPlan, composite: str, reason: str) -> None:
    # Malformed wins: nothing at all is adopted from this composite.
    plan.failures[composite] = ("malformed", reason)
    plan.changes = [c for c in plan.changes if c.composite != composite]


def _switch(change: PartChange) -> str:
    return (
        f"{change.remote_label}: template type changed from {change.local!r} to {change.remote!r}"
    )
