"""Steps 2 and 3, the pushes: each charter prompt as a text prompt, each composite rebuilt from
the charter as a chat prompt. A version is created only when the content differs, and a push
never buries a change made in Opik that the pull has not brought in."""

from __future__ import annotations

from ..opik import OpikError, RemoteVersion
from . import composites as comp
from . import decide, messages, races
from .bases import remote_of
from .charter import Charter
from .context import SyncRun
from .formatting import chat_text, messages_text, unified_diff, version_label
from .plan import CompositeRead, PullPlan
from .pull import read_composites
from .report import Action, Step, SyncReport
from .state import IndividualSeen, WriteRace

CHANGE_DESCRIPTION = "pushed by prompt-sync from the charter"


# Step 2: individual prompts ------------------------------------------------------------------


def push_individuals(
    run: SyncRun, charter: Charter, report: SyncReport, plan: PullPlan | None = None
) -> None:
    """Every charter prompt becomes a text prompt in Opik (a version only when it changed)."""
    blocked = set(plan.conflicts) if plan else set()
    names = list(charter.prompts)
    for name in names:
        if name in blocked:
            reason = "unresolved pull conflict"
            report.add(Action("individual", name, "blocked", ok=False, reason=reason))
    todo = [n for n in names if n not in blocked]
    report.add(
        *run.workers.map(
            "push individuals", todo, lambda n: _push_individual(run, charter, n, plan)
        )
    )
    if not run.dry_run:
        run.state.save()


def _push_individual(run: SyncRun, charter: Charter, name: str, plan: PullPlan | None) -> Action:
    prompt = charter[name]
    sha = comp.text_sha256(prompt.template, prompt.type)
    seen = run.state.individual(name)
    listed = run.state.listed(name)
    if listed is not None and listed.template_structure != "text":
        return _other_structure("individual", name, listed.template_structure)
    # Opik holds what this copy last synced: no read, unless a dry run wants to show a diff.
    known = seen if run.state.unchanged_in_opik(seen, name) else None
    if known is not None and known.sha256 == sha:
        return Action("individual", name, "unchanged", version=version_label(known))
    try:
        current = None
        if (known is None or run.dry_run) and not run.state.absent_from_opik(name):
            current = run.state.own(name, run.opik.prompts.get_version(name))
        if current is not None and current.template_structure != "text":
            return _other_structure("individual", name, current.template_structure)
        if current is not None and (current.template, current.type) == (
            prompt.template,
            prompt.type,
        ):
            _saw_individual(run, name, current, sha, created=0)
            return Action("individual", name, "unchanged", version=version_label(current))
        stale = _stale(run, name, sha, current, plan)
        if stale:
            return Action("individual", name, "blocked", ok=False, reason=stale)
        diff = ""
        if known is None or current is not None:
            diff = unified_diff(current.template if current else "", prompt.template, name)
        if run.dry_run:
            return Action("individual", name, "created", reason="dry run", diff=diff)
        commit = comp.new_commit()
        created = run.opik.prompts.create_version(
            name,
            template=prompt.template,
            template_type=prompt.type,
            structure="text",
            metadata=comp.provenance(
                {"text": name}, comp.content_hash(prompt.template, prompt.type), commit
            ),
            change_description=CHANGE_DESCRIPTION,
            commit=commit,
            new=run.state.is_new(name),
        )
    except OpikError as exc:
        return Action("individual", name, "failed", ok=False, reason=str(exc))
    _saw_individual(run, name, created, sha, created=1)
    return Action("individual", name, "created", version=version_label(created), diff=diff)


def _stale(
    run: SyncRun, name: str, sha: str, current: RemoteVersion | None, plan: PullPlan | None
) -> str:
    """Why the charter's text must not be republished over ``current``, or "".

    Someone else (another copy's push) wrote ``current`` while the charter still holds the text
    this copy last saw: the change reaches the charter through a composite's pull. When no pull
    could bring it (a composite using the prompt is malformed or unreadable, or this run did not
    pull), republishing would undo it, and two copies would take turns."""
    seen = run.state.individual(name)
    if seen is None or current is None or current.id == seen.version_id or seen.sha256 != sha:
        return ""
    if plan is None:
        return messages.stale_individual(current, {}, run.fixes)
    unpulled = {
        composite: failure.kind
        for composite in run.config.composites_using(name)
        if (failure := plan.failures.get(composite)) is not None
    }
    return messages.stale_individual(current, unpulled, run.fixes) if unpulled else ""


def _saw_individual(
    run: SyncRun, name: str, version: RemoteVersion, sha: str, *, created: int
) -> None:
    run.state.record_individual(
        name,
        IndividualSeen(
            prompt_id=version.prompt_id,
            version_count=run.state.count_after(name, version.prompt_id, created),
            version_id=version.id,
            version_number=version.version_number,
            commit=version.commit,
            sha256=sha,
        ),
    )


# Step 3: composites ----------------------------------------------------------------------------


def push_composites(
    run: SyncRun,
    charter: Charter,
    report: SyncReport,
    plan: PullPlan | None = None,
) -> dict[str, CompositeRead]:
    """Every composite rebuilt from the charter becomes a chat prompt, never burying Opik's edits.

    Uses the pull's reads and reads the others; returns every composite's
    read, updated with what the push created, i.e. Opik's state after the push.
    """
    blocked = plan.blocked_composites(run.config) if plan else set()
    reads = plan.reads if plan else {}
    missing = [n for n in run.config.composites if n not in reads or reads[n].error]
    reads.update(read_composites(run, charter, missing) if missing else {})
    todo = []
    for name in run.config.composites:
        race = races.race_of(run, name)
        if race is not None:
            pulled = plan.failures.get(name) if plan else None
            # The pull worded this race already, reading both texts: no second read.
            if pulled is not None and pulled.kind == "conflict":
                reason = pulled.reason
            else:
                reason = races.help_text(run, name, race, reads.get(name))
            report.add(Action("composite", name, "blocked", ok=False, reason=reason))
        elif name in blocked:
            reason = "unresolved pull conflict"
            report.add(Action("composite", name, "blocked", ok=False, reason=reason))
        else:
            todo.append(name)
    report.add(
        *run.workers.map(
            "push composites",
            todo,
            lambda n: _push_composite(run, charter, n, reads[n], plan),
            inline=lambda n: run.bases.is_base(n, reads[n].latest, charter),
        )
    )
    if not run.dry_run:
        run.state.save()
    return reads


def _push_composite(
    run: SyncRun, charter: Charter, name: str, read: CompositeRead, plan: PullPlan | None
) -> Action:
    spec = run.config.composites[name]
    messages_, template_type, digest, template = run.bases.rebuild(charter, name)
    failure = plan.failures.get(name) if plan else None
    # A version this run's pull read without failure has been merged into the charter.
    merged_id = read.pulled.id if plan and failure is None and read.pulled else None
    if read.error:
        return Action("composite", name, "failed", ok=False, reason=read.error)
    current = read.latest
    try:
        if current is not None:
            if current.template_structure != "chat":
                return _other_structure("composite", name, current.template_structure)
            recorded = run.bases.record_if_rebuilt(charter, read, current, "composite")
            if recorded is not None:
                return recorded
        # The "current" version a push must not bury: the pull environment's, if configured.
        guard = current
        if run.config.opik.pull_environment and read.pulled is not None:
            guard = read.pulled
        if guard is not None and guard.id != merged_id:
            base = run.bases.of(read, charter)
            if not decide.may_replace(remote_of(guard), base, run.config.first_contact):
                malformed = plan.malformed(name) if plan else None
                reason = messages.not_pulled(name, guard, malformed, run.fixes)
                return Action("composite", name, "failed", ok=False, reason=reason)
        diff = unified_diff(
            chat_text(current.template if current else ""), messages_text(messages_), name
        )
        if run.dry_run:
            return Action("composite", name, "created", reason="dry run", diff=diff)
        commit = comp.new_commit()
        created = run.opik.prompts.create_version(
            name,
            template=template,
            template_type=template_type,
            structure="chat",
            metadata=comp.provenance(spec.parts(), digest, commit),
            change_description=CHANGE_DESCRIPTION,
            commit=commit,
            new=run.state.is_new(name),
        )
        # Opik has no compare-and-set: the version below ours must be the one this run read.
        theirs = races.slipped_in(run.opik.prompts, created, current)
    except OpikError as exc:
        return Action("composite", name, "failed", ok=False, reason=str(exc))
    read.latest = created
    if theirs is not None:
        race = WriteRace(ours=races.ref(created), theirs=races.ref(theirs))
        run.bases.agree(charter, name, created, version_count=0, race=race)
        reason = races.help_text(run, name, race, read, theirs=theirs)
        return Action("composite", name, "conflict", ok=False, reason=reason, diff=diff)
    count = run.state.count_after(name, created.prompt_id, 1)
    run.bases.agree(charter, name, created, count)
    return Action("composite", name, "created", version=version_label(created), diff=diff)


def _other_structure(step: Step, name: str, structure: str) -> Action:
    """Opik holds a prompt of that name of the other kind (text for a composite, or chat)."""
    reason = f"{name!r} exists in Opik as a {structure} prompt"
    return Action(step, name, "failed", ok=False, reason=reason)
