"""``rollback``: move an environment back along prompt-sync's record of its moves, or restore an
earlier version as the newest one. Either way, say what the next sync will do with it.

Nothing to roll back (the environment points nowhere, or took its first version from nothing; a
composite with a single version) is not an error: the result says so and nothing moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..opik import RemoteVersion
from ..sync.formatting import version_label
from ..sync.messages import Fixes
from ..sync.state import StateError, SyncState
from .engine import holder, recorded_previous
from .models import Outcome, ReleaseRefused, ReleaseResult
from .next_sync import NextSync, next_sync

if TYPE_CHECKING:
    from .engine import Releaser
    from .requests import Rollback


def rollback(releaser: Releaser, asked: Rollback) -> ReleaseResult:
    composite, to, environment, dry_run = (
        asked.composite,
        asked.to,
        asked.environment,
        asked.dry_run,
    )
    releaser.check_composite(composite)
    history = releaser.history(composite)
    if environment is None:
        return _restore(releaser, composite, history, to, dry_run)
    releaser.check_environment(environment)
    current = holder(history, environment)
    if to is not None:
        target = releaser.by_label(history, to)
    else:
        found = _recorded_target(composite, environment, history, current, releaser.fixes)
        if isinstance(found, str):
            return _nothing(composite, found, environment, current)
        target = found
    if current is not None and current.id == target.id:
        return ReleaseResult(
            "rollback",
            composite,
            "unchanged",
            f"{environment} already points to {composite} {version_label(target)}",
            environment=environment,
            version=target.version_number,
            previous=target.version_number,
        )
    was = current.version_number if current else None
    upcoming, notes = _next_sync(releaser, composite, target, history, environment)
    details = tuple(upcoming.lines(releaser.fixes))
    if dry_run:
        return ReleaseResult(
            "rollback",
            composite,
            "would_roll_back",
            f"dry run: would roll {environment} back to {composite} {version_label(target)}"
            + (f" (now {was})" if was else ""),
            environment=environment,
            version=was,
            previous=was,
            notes=notes,
            details=details,
            next_sync=upcoming,
        )
    # An explicit target is a move like a promotion (recorded, so it can be undone); stepping
    # back along the record keeps the older records, so a second rollback steps further back.
    notes += releaser.move(environment, target, current, record=to is not None)
    return ReleaseResult(
        "rollback",
        composite,
        "rolled_back",
        f"rolled {environment} back to {composite} {version_label(target)}"
        + (f" (was {was})" if was else ""),
        environment=environment,
        version=target.version_number,
        previous=was,
        notes=notes,
        details=details,
        next_sync=upcoming,
    )


def _recorded_target(
    composite: str,
    environment: str,
    history: list[RemoteVersion],
    current: RemoteVersion | None,
    fixes: Fixes,
) -> RemoteVersion | str:
    """Where the environment pointed before prompt-sync last moved it; a string saying why
    there is nothing to roll back; ReleaseRefused when it can't be known."""
    if current is None:
        return f"{environment} points to no version of {composite}"
    previous = recorded_previous(current, environment)
    again = fixes.rollback_to(composite, environment)
    if previous is None:
        raise ReleaseRefused(
            f"{environment} points to {composite} {version_label(current)}, and Opik holds no "
            f"record of where it pointed before (it was not moved there by prompt-sync): "
            f"name the version: {again}"
        )
    if previous == "none":
        return (
            f"{environment} pointed to no version of {composite} before "
            f"{version_label(current)}; to move it to another version, name it: {again}"
        )
    target = next((v for v in history if v.commit == previous), None)
    if target is None:
        raise ReleaseRefused(
            f"{environment} pointed to commit {previous} of {composite} before, which Opik "
            f"no longer lists: name a version: {again}"
        )
    return target


def _restore(
    releaser: Releaser,
    composite: str,
    history: list[RemoteVersion],
    to: str | None,
    dry_run: bool,
) -> ReleaseResult:
    latest = history[0]
    if to is not None:
        source = releaser.by_label(history, to)
    elif len(history) > 1:
        source = history[1]
    else:
        why = f"{composite} has a single version in Opik ({version_label(latest)})"
        return _nothing(composite, why, None, latest)
    if source.id == latest.id:
        why = f"{version_label(source)} is already the latest version of {composite}"
        return _nothing(composite, why, None, latest)
    upcoming, notes = _next_sync(releaser, composite, source, history, None)
    details = tuple(upcoming.lines(releaser.fixes))
    if dry_run:
        return ReleaseResult(
            "rollback",
            composite,
            "would_restore",
            f"dry run: would restore {composite} {version_label(source)} as a new latest "
            f"version (now {latest.version_number})",
            version=latest.version_number,
            previous=source.version_number,
            notes=notes,
            details=details,
            next_sync=upcoming,
        )
    restored = releaser.restore(source)
    outcome: Outcome = "restored"
    return ReleaseResult(
        "rollback",
        composite,
        outcome,
        f"restored {composite} {version_label(source)} as {version_label(restored)}, the new "
        f"latest version (it was {latest.version_number})"
        + ("; the next sync pulls it into the charter" if upcoming.pulled else ""),
        version=restored.version_number,
        previous=source.version_number,
        notes=notes,
        details=details,
        next_sync=upcoming,
    )


def _next_sync(
    releaser: Releaser,
    composite: str,
    target: RemoteVersion,
    history: list[RemoteVersion],
    environment: str | None,
) -> tuple[NextSync, tuple[str, ...]]:
    notes: tuple[str, ...] = ()
    state: SyncState | None = None
    try:
        state = releaser.state()
    except StateError as exc:
        notes = (f"the next sync stops on the sync state file until it is fixed: {exc}",)
    upcoming = next_sync(
        releaser.config, composite, target, state, history, environment=environment
    )
    return upcoming, notes


def _nothing(
    composite: str, why: str, environment: str | None, current: RemoteVersion | None
) -> ReleaseResult:
    label = current.version_number if current else None
    return ReleaseResult(
        "rollback",
        composite,
        "nothing_to_roll_back",
        f"nothing to roll back: {why}",
        environment=environment,
        version=label,
        previous=label,
    )
