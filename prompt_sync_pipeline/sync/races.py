"""Write races: Opik has no compare-and-set, so a version another writer saved between this
run's read and its write is found after the write (the version below ours is not the one read),
recorded in the state, and reported by every run until someone resolves it."""

from __future__ import annotations

from ..opik import OpikError, RemoteVersion
from ..opik.prompts import PromptLibrary
from . import messages
from .context import SyncRun
from .formatting import version_label
from .plan import CompositeRead
from .report import Action, SyncReport
from .resolutions import Resolutions
from .state import VersionRef, WriteRace

# How many of a prompt's newest versions the check reads after a write.
RACE_WINDOW = 10


def ref(version: RemoteVersion) -> VersionRef:
    return VersionRef(
        version_id=version.id, version_number=version.version_number, commit=version.commit
    )


def race_of(run: SyncRun, name: str) -> WriteRace | None:
    entry = run.state.composite(name)
    return entry.write_race if entry is not None else None


def slipped_in(
    prompts: PromptLibrary, created: RemoteVersion, read: RemoteVersion | None
) -> RemoteVersion | None:
    """The version another writer saved between this run's read and its write, if any."""
    newest = prompts.newest_versions(created.prompt_id, RACE_WINDOW)
    ids = [v.id for v in newest]
    if created.id not in ids:
        return None  # buried under many newer versions: the next run reads and pulls them
    below = ids.index(created.id) + 1
    if below < len(newest) and newest[below].id != (read.id if read else None):
        return newest[below]
    return None


def settle(run: SyncRun, keep: Resolutions, report: SyncReport) -> None:
    """Resolve recorded write races the user named: ``--keep-charter NAME`` keeps this copy's
    version (already Opik's newest); ``--keep-opik NAME`` restores the other writer's version
    as the newest, which the pull then adopts (this copy's version is the base)."""
    for name in run.config.composites:
        entry = run.state.composite(name)
        side = keep.for_composite(name)
        if entry is None or entry.write_race is None or side is None:
            continue
        theirs = entry.write_race.theirs
        if side == "opik" and not run.dry_run:
            try:
                run.opik.prompts.restore_version(entry.prompt_id, theirs.version_id)
            except OpikError as exc:
                reason = f"could not restore {version_label(theirs)}: {exc}"
                report.add(Action("pull", name, "failed", ok=False, reason=reason))
                continue
        if not run.dry_run:
            settled = entry.model_copy(update={"write_race": None, "version_count": 0})
            run.state.record_composite(name, settled)


def help_text(
    run: SyncRun,
    name: str,
    race: WriteRace,
    read: CompositeRead | None,
    theirs: RemoteVersion | None = None,
) -> str:
    """The race's report: both texts (read again when needed) and how to keep either."""
    prompts = run.opik.prompts
    ours_template = theirs_template = None
    try:
        theirs = theirs or prompts.get_version(name, commit=race.theirs.commit)
        ours = (
            read.latest if read and read.latest and read.latest.id == race.ours.version_id else None
        )
        ours = ours or prompts.get_version(name, commit=race.ours.commit)
        ours_template = ours.template if ours else None
        theirs_template = theirs.template if theirs else None
    except OpikError:
        pass
    return messages.write_race(
        name, race.ours, race.theirs, ours_template, theirs_template, run.config.charter, run.fixes
    )
