"""Step 1, the pull: read each composite Opik changed, decide per part, write the charter.

One listing of the project (in the run's state) says which composites changed in Opik since this
copy's state: only those are read. The decisions are ``decide``'s; this module feeds it and
applies what it decided, atomically, then records the bases the pull settled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..opik import OpikError, RemoteVersion
from . import decide, messages, races
from .bases import remote_of
from .charter import Charter, CharterChanged, write_charter
from .context import SyncRun
from .decide import PartChange, PullFailure
from .formatting import unified_diff
from .messages import conflict_help
from .plan import CompositeRead, PullPlan
from .report import Action, SyncReport
from .resolutions import NONE, Resolutions


def read_composites(
    run: SyncRun, charter: Charter, names: Iterable[str] | None = None
) -> dict[str, CompositeRead]:
    """Each composite as Opik holds it: read only when the listing or the charter changed
    since the state (plus the pull environment's version, when one is configured)."""
    run.state.load()  # here, not in every worker: an unusable file stops the step
    run.state.listing()
    names = list(names or run.config.composites)
    known = {name: _known_latest(run, name, charter) for name in names}
    environment = run.config.opik.pull_environment
    reads = run.workers.map(
        "read composites",
        names,
        lambda name: _read(run, name, known[name]),
        inline=lambda name: known[name] is not None and not environment,
    )
    return {read.name: read for read in reads}


def _read(run: SyncRun, name: str, latest: RemoteVersion | None) -> CompositeRead:
    """The composite's read, from ``latest`` when the state already knows it."""
    environment = run.config.opik.pull_environment
    prompts = run.opik.prompts
    try:
        if latest is None and not run.state.absent_from_opik(name):
            latest = run.state.own(name, prompts.get_version(name))
        pulled = latest
        if environment and latest is not None:
            pulled = run.state.own(name, prompts.get_version(name, environment=environment))
    except OpikError as exc:
        return CompositeRead(name, error=str(exc))
    return CompositeRead(name, pulled=pulled, latest=latest)


def _known_latest(run: SyncRun, name: str, charter: Charter) -> RemoteVersion | None:
    """Opik's latest version without reading it, when it must equal the rebuild: the listing
    shows the composite as the state recorded it (no version since the base) and the charter
    still holds the base's parts. None when it has to be read."""
    entry = run.state.composite(name)
    if entry is None or not run.state.unchanged_in_opik(entry, name):
        return None
    if not run.bases.rebuilds_base(charter, name, entry):
        return None
    rebuild = run.bases.rebuild(charter, name)
    return RemoteVersion(
        id=entry.version_id,
        prompt_id=entry.prompt_id,
        commit=entry.commit,
        version_number=entry.version_number,
        template=rebuild.template,
        type=rebuild.template_type,
        template_structure="chat",
        metadata=None,
    )


def plan_pull(
    run: SyncRun,
    charter: Charter,
    reads: Mapping[str, CompositeRead],
    keep: Resolutions = NONE,
) -> PullPlan:
    """Decide, per part of each composite, whether Opik or the charter changed it."""
    plan = PullPlan(reads=dict(reads))
    classified = run.workers.map(
        "compare composites",
        list(reads.values()),
        lambda read: (read.name, _classify(run, read, charter, keep)),
        inline=lambda read: run.bases.is_base(read.name, read.pulled, charter),
    )
    for name, result in classified:
        if isinstance(result, PullFailure):
            plan.failures[name] = result
        else:
            plan.changes.extend(result)
    if any(change.role == decide.TYPE_ROLE for change in plan.changes):  # rare: a type switch
        table = {name: spec.parts() for name, spec in run.config.composites.items()}
        pulled_types = {
            name: read.pulled.type if read.pulled else None
            for name, read in plan.reads.items()
            if not read.error
        }
        plan.changes, plan.type_adoptions = decide.settle_types(
            plan.changes, plan.failures, pulled_types, table, run.fixes
        )
    shared = decide.agree_on_shared_parts(plan.changes)
    plan.adoptions, plan.conflicts = shared.adoptions, shared.conflicts
    return plan


def _classify(
    run: SyncRun, read: CompositeRead, charter: Charter, keep: Resolutions
) -> list[PartChange] | PullFailure:
    """The composite's differing parts with a decision each, or why it can't be pulled."""
    if read.error:
        return PullFailure("failed", read.error)
    race = races.race_of(run, read.name)
    if race is not None:
        return PullFailure("conflict", races.help_text(run, read.name, race, read))
    version = read.pulled
    if version is None:
        return []  # not in Opik yet (or not in the pull environment): step 3 creates it
    if run.bases.is_base(read.name, version, charter):
        return []  # the base itself, and the charter still holds its parts: nothing differs
    spec = run.config.composites[read.name]
    local = charter.parts(spec.system_prompt, spec.user_prompt)
    local_type = charter[spec.system_prompt].type
    remote = remote_of(version)
    if remote.parts == local and remote.template_type == local_type:
        return []  # R equals L: the base is not even needed
    try:
        base = run.bases.of(read, charter)  # may read the history at first contact
    except OpikError as exc:
        return PullFailure("failed", str(exc))
    return decide.classify(
        read.name,
        spec.parts(),
        local,
        local_type,
        remote,
        base,
        keep,
        run.config.first_contact,
    )


def apply_pull(
    run: SyncRun, charter: Charter, plan: PullPlan, report: SyncReport, *, write: bool = True
) -> Charter:
    """Write the adopted parts into the charter (once, atomically) and report the pull.

    A composite whose Opik version now equals its rebuild from the charter becomes the base
    right away, so a later local edit is a clean push even if this run pushes nothing.
    With ``write=False`` (or in a dry run) it only reports what applying would do.
    """
    write = write and not run.dry_run
    changed = bool(plan.adoptions or plan.type_adoptions)
    updated = charter.with_templates(plan.adoptions, plan.type_adoptions) if changed else charter
    if changed and write:
        try:
            write_charter(updated)
        except CharterChanged as exc:
            updated = charter
            _leave_unpulled(run, plan, messages.charter_changed(str(exc), run.fixes))
    for name, failure in sorted(plan.failures.items()):
        report.add(Action("pull", name, failure.kind, ok=False, reason=failure.reason))
    reads = [r for name, r in sorted(plan.reads.items()) if name not in plan.failures]
    blocked = plan.blocked_composites(run.config)
    kept_local = {c.composite for c in plan.changes if c.decision == "keep_local"}
    report.add(
        *run.workers.map(
            "finish pull",
            reads,
            lambda read: _pull_outcome(run, read, updated, plan, write, blocked, kept_local),
            inline=lambda read: run.bases.is_base(read.name, read.pulled, updated),
        )
    )
    if write:
        run.state.save()  # after the charter: see "How the sync decides" in the README
    _report_adoptions(run, charter, plan, report)
    return updated


def _report_adoptions(run: SyncRun, charter: Charter, plan: PullPlan, report: SyncReport) -> None:
    """One action per adopted prompt, with its diff; a warning per shared prompt that spreads."""
    for prompt, text in sorted(plan.adoptions.items()):
        adopted = sorted(
            (c.composite, c.remote_label)
            for c in plan.changes
            if c.prompt == prompt and c.decision == "adopt"
        )
        sources = [composite for composite, _ in adopted]
        report.add(
            Action(
                "pull",
                prompt,
                "adopted",
                reason="from " + ", ".join(sources) + _type_note(charter, plan, prompt),
                # The Opik version(s) it came from, e.g. for the commit that delivers it.
                version=", ".join(f"{composite} {label}" for composite, label in adopted),
                diff=unified_diff(charter[prompt].template, text, prompt),
            )
        )
        users = run.config.composites_using(prompt)
        if len(users) > 1:
            spread = sorted(set(users) - set(sources))
            report.warnings.append(
                f"shared prompt {prompt!r} changed in Opik ({', '.join(sources)})"
                + (f"; the change spreads to {', '.join(spread)} in step 3" if spread else "")
            )
    for prompt, template_type in sorted(plan.type_adoptions.items()):
        if prompt not in plan.adoptions:
            before, after = f"type: {charter[prompt].type}\n", f"type: {template_type}\n"
            report.add(
                Action(
                    "pull",
                    prompt,
                    "adopted",
                    reason="from Opik" + _type_note(charter, plan, prompt),
                    diff=unified_diff(before, after, prompt),
                )
            )


def _pull_outcome(
    run: SyncRun,
    read: CompositeRead,
    updated: Charter,
    plan: PullPlan,
    write: bool,
    blocked: set[str],
    kept_local: set[str],
) -> Action:
    """How the pull ended for one composite; records the base when Opik now matches."""
    name = read.name
    if name in blocked:
        conflicts = {
            prompt: changes
            for prompt, changes in plan.conflicts.items()
            if name in run.config.composites_using(prompt)
        }
        reason = conflict_help(name, conflicts, run.config.charter, run.fixes)
        return Action("pull", name, "conflict", ok=False, reason=reason)
    if read.pulled is None:
        environment = run.config.opik.pull_environment
        where = f"in Opik's {environment!r} environment" if environment else "in Opik"
        return Action("pull", name, "absent", reason=f"no version {where} yet")
    try:
        recorded = run.bases.record_if_rebuilt(updated, read, read.pulled, "pull", write=write)
    except OpikError as exc:
        return Action("pull", name, "failed", ok=False, reason=f"could not record the base: {exc}")
    if recorded is not None:
        return recorded
    return Action("pull", name, "kept_local" if name in kept_local else "unchanged")


def _leave_unpulled(run: SyncRun, plan: PullPlan, reason: str) -> None:
    """The charter could not take the pull: the composites it came from count as not pulled,
    so no base is recorded on them and step 3 won't push over them."""
    sources = {c.composite for c in plan.changes if c.decision == "adopt"}
    sources |= {
        name for prompt in plan.type_adoptions for name in run.config.composites_using(prompt)
    }
    for name in sources:
        plan.failures.setdefault(name, PullFailure("failed", reason))
    plan.adoptions.clear()
    plan.type_adoptions.clear()


def _type_note(charter: Charter, plan: PullPlan, prompt: str) -> str:
    if prompt not in plan.type_adoptions:
        return ""
    return f" (template type {charter[prompt].type} -> {plan.type_adoptions[prompt]})"
