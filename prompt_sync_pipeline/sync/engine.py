"""The three-way sync of the charter and Opik ("How the sync decides" in the README).

One run is three steps: pull (read every composite, split it, adopt what Opik changed),
push individuals (each charter prompt as a text prompt) and push composites (each composite
rebuilt from the charter as a chat prompt). Each composite's *base* is the last version this
copy of the charter agreed with Opik, kept in the sync state file beside the charter (Opik's
provenance records stand in at first contact); it tells "Opik was optimized" apart from "the
charter was edited". One listing of the project says which prompts changed since the state:
only those are read.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple, TypeVar

from . import composites as comp
from . import template_types
from .bulk import frozen_heap
from .charter import (
    Charter,
    CharterChanged,
    TemplateType,
    charter_lock,
    load_charter,
    write_charter,
)
from .composites import MalformedComposite, Parts
from .config import ConfigError, SyncConfig
from .opik_gateway import OpikError, OpikGateway, RemoteVersion
from .report import Action, SyncReport, unified_diff
from .resolutions import Side, chosen_composite, from_composite
from .state import CompositeBase, IndividualSeen, PartBase, VersionRef, WriteRace, text_sha256
from .tracking import RunState

Progress = Callable[[str, int, int], None]
T = TypeVar("T")
R = TypeVar("R")

CHANGE_DESCRIPTION = "pushed by prompt-sync from the charter"


@dataclass
class CompositeRead:
    """What Opik holds for one composite: the version the pull reads and the latest one."""

    name: str
    pulled: RemoteVersion | None = None
    latest: RemoteVersion | None = None
    error: str | None = None


@dataclass(frozen=True)
class Base:
    """The last agreement on a composite: the version, and a hash of each part as agreed."""

    version_id: str
    label: str
    template_type: str | None
    hashes: Mapping[str, str]  # role -> text_sha256 of the part

    def has(self, role: str, text: str) -> bool:
        return self.hashes.get(role) == text_sha256(text, self.template_type or "mustache")


@dataclass
class PartChange:
    """A part of a composite whose Opik text differs from the charter's, and what to do about it."""

    composite: str
    role: str
    prompt: str
    decision: Literal["adopt", "keep_local", "conflict"]
    local: str
    remote: str
    remote_label: str
    why: str = ""


@dataclass
class PullPlan:
    """The pull's decisions: adoptions per prompt, conflicts, and composites that could not be read."""

    reads: dict[str, CompositeRead]
    changes: list[PartChange] = field(default_factory=list)
    adoptions: dict[str, str] = field(default_factory=dict)
    type_adoptions: dict[str, TemplateType] = field(default_factory=dict)
    conflicts: dict[str, list[PartChange]] = field(default_factory=dict)
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (outcome, reason)

    def blocked_composites(self, config: SyncConfig) -> set[str]:
        return {c for p in self.conflicts for c in config.composites_using(p)}


def run_sync(
    config: SyncConfig,
    *,
    pull: bool = True,
    push: bool = True,
    dry_run: bool = False,
    keep: Mapping[str, Side] | None = None,
    progress: Progress | None = None,
    command_prefix: str = "prompt-sync",
    rebuild_state: bool = False,
) -> SyncReport:
    """One sync run on its own Opik connection (from the SDK's environment variables).

    ``keep`` holds the user's resolutions (see ``resolutions``); ``command_prefix`` is how the
    user runs the tool (e.g. with ``--config PATH``), for the fix commands in conflict messages.
    Raises ``OpikUnavailable`` before any work when Opik can't be used at all.
    """
    with OpikGateway.from_environment(config.opik) as gateway:
        engine = SyncEngine(
            config,
            gateway,
            dry_run=dry_run,
            progress=progress,
            command_prefix=command_prefix,
            rebuild_state=rebuild_state,
        )
        # A bad charter, composite table or state file is reported before any request.
        engine.load_charter()
        engine.state.load()
        with frozen_heap():
            gateway.check_access()
            return engine.sync(pull=pull, push=push, keep=keep)


class SyncEngine:
    """Runs the sync steps for one configuration against one Opik project."""

    def __init__(
        self,
        config: SyncConfig,
        gateway: OpikGateway,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        command_prefix: str = "prompt-sync",
        rebuild_state: bool = False,
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.dry_run = dry_run
        self.command_prefix = command_prefix
        self.state = RunState(config, gateway, rebuild=rebuild_state)
        self._progress = progress
        self._bases: dict[str, Base | None] = {}
        self._bases_lock = threading.Lock()
        self._rebuilds_seen: dict[str, tuple[Charter, CompositeBase, bool]] = {}

    # Whole runs ------------------------------------------------------------------------------

    def sync(
        self, *, pull: bool = True, push: bool = True, keep: Mapping[str, Side] | None = None
    ) -> SyncReport:
        """A full run under the charter lock: pull, then push individuals and composites."""
        report = SyncReport(dry_run=self.dry_run)
        with charter_lock(self.config.charter, self.config.lock_timeout_seconds):
            charter = self.load_charter()
            self.state.load()  # an unusable state file stops the run before any request
            self.settle_write_races(keep or {}, report)
            plan = None
            if pull:
                plan = self.plan_pull(charter, self.read_composites(charter=charter), keep=keep)
                charter = self.apply_pull(charter, plan, report)
            if push:
                self.push_individuals(charter, report, plan)
                self.push_composites(charter, report, plan)
        return report

    def load_charter(self) -> Charter:
        """The charter, checked against the composite table (unknown names fail before any write)."""
        charter = load_charter(self.config.charter)
        for name, spec in self.config.composites.items():
            missing = [p for p in spec.parts().values() if p not in charter]
            if missing:
                raise ConfigError(
                    f"composite {name!r} uses {', '.join(map(repr, missing))}, "
                    f"not in the charter {self.config.charter}"
                )
            types = {charter[p].type for p in spec.parts().values()}
            if len(types) > 1:
                raise ConfigError(
                    f"composite {name!r} mixes template types {sorted(types)}; "
                    "its parts must share one type"
                )
        return charter

    # Step 1: pull ----------------------------------------------------------------------------

    def read_composites(
        self, names: Iterable[str] | None = None, *, charter: Charter | None = None
    ) -> dict[str, CompositeRead]:
        """Each composite as Opik holds it: read only when the listing or the charter changed
        since the state (plus the pull environment's version, when one is configured)."""
        charter = charter or self.load_charter()
        self.state.load()  # here, not in every worker: an unusable file stops the step
        self.state.listing()
        names = list(names or self.config.composites)
        known = {name: self._known_latest(name, charter) for name in names}
        environment = self.config.opik.pull_environment
        reads = self._map(
            "read composites",
            names,
            lambda name: self._read(name, known[name]),
            inline=lambda name: known[name] is not None and not environment,
        )
        return {read.name: read for read in reads}

    def _read(self, name: str, latest: RemoteVersion | None) -> CompositeRead:
        """The composite's read, from ``latest`` when the state already knows it."""
        environment = self.config.opik.pull_environment
        try:
            if latest is None and not self.state.absent_from_opik(name):
                latest = self.gateway.get_version(name)
            pulled = latest
            if environment and latest is not None:
                pulled = self.gateway.get_version(name, environment=environment)
        except OpikError as exc:
            return CompositeRead(name, error=str(exc))
        return CompositeRead(name, pulled=pulled, latest=latest)

    def _known_latest(self, name: str, charter: Charter) -> RemoteVersion | None:
        """Opik's latest version without reading it, when it must equal the rebuild: the listing
        shows the composite as the state recorded it (no version since the base) and the charter
        still holds the base's parts. None when it has to be read."""
        entry = self.state.composite(name)
        if entry is None or not self.state.unchanged_in_opik(entry, name):
            return None
        if not self._rebuilds_base(charter, name, entry):
            return None
        rebuild = self._rebuild(charter, name)
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
        self,
        charter: Charter,
        reads: Mapping[str, CompositeRead],
        *,
        keep: Mapping[str, Side] | None = None,
    ) -> PullPlan:
        """Decide, per part of each composite, whether Opik or the charter changed it."""
        keep = dict(keep or {})
        plan = PullPlan(reads=dict(reads))
        classified = self._map(
            "compare composites",
            list(reads.values()),
            lambda read: (read.name, self._classify(read, charter, keep)),
            inline=lambda read: self._is_base(read.name, read.pulled, charter),
        )
        for name, result in classified:
            if isinstance(result, tuple):
                plan.failures[name] = result
            else:
                plan.changes.extend(result)
        template_types.settle(plan, self.config)
        self._agree_on_shared_parts(plan)
        return plan

    def _classify(
        self, read: CompositeRead, charter: Charter, keep: Mapping[str, Side]
    ) -> list[PartChange] | tuple[str, str]:
        """The composite's differing parts with a decision each, or (outcome, reason) of a failure."""
        try:
            return self._classify_parts(read, charter, keep)
        except OpikError as exc:  # e.g. the history read that finds the base
            return ("failed", str(exc))

    def _classify_parts(
        self, read: CompositeRead, charter: Charter, keep: Mapping[str, Side]
    ) -> list[PartChange] | tuple[str, str]:
        spec = self.config.composites[read.name]
        if read.error:
            return ("failed", read.error)
        entry = self.state.composite(read.name)
        if entry is not None and entry.write_race is not None:
            return ("conflict", self._race_help(read.name, entry.write_race, read))
        remote_version = read.pulled
        if remote_version is None:
            return []  # not in Opik yet (or not in the pull environment): step 3 creates it
        if keep.get(read.name) == "charter":
            return []  # resolved by hand: the rebuild from the charter replaces Opik's version
        if self._is_base(read.name, remote_version, charter):
            return []  # the base itself, and the charter still holds its parts: nothing differs
        try:
            remote = self._parts_of(remote_version)
        except MalformedComposite as exc:
            return ("malformed", f"{_label(remote_version)}: {exc}")
        local = Parts(charter[spec.system_prompt].template, charter[spec.user_prompt].template)
        changes: list[PartChange] = []
        for role, prompt in spec.parts().items():
            if remote[role] == local[role]:
                continue
            change = PartChange(
                read.name,
                role,
                prompt,
                "conflict",
                local[role],
                remote[role],
                _label(remote_version),
            )
            chosen = chosen_composite(keep, prompt)
            if keep.get(prompt) == "charter":
                change.decision = "keep_local"
                change.why = "resolved by hand: keep the charter's text"
            elif chosen == read.name:
                change.decision = "adopt"
                change.why = f"resolved by hand: keep Opik's text from {chosen}"
            elif chosen is not None:
                # Another composite's version wins; the push replaces this one (kept in history).
                change.decision = "keep_local"
                change.why = f"resolved by hand: Opik's text from {chosen} wins"
            else:
                self._decide(change, read)
                # Keeping Opik's text settles a conflict; a part Opik never changed stays as is.
                if keep.get(prompt) == "opik" and change.decision == "conflict":
                    change.decision, change.why = "adopt", "resolved by hand: keep Opik's text"
            changes.append(change)
        local_type = charter[spec.system_prompt].type
        if remote_version.type != local_type:
            changes.append(self._decide_type(read, local_type, keep))
        # Malformed wins over every decision: a part that may come from Opik (adopted now, or
        # after a conflict is resolved) must keep the charter's variables, in Opik's type.
        for change in changes:
            if change.decision == "keep_local" or change.role == template_types.TYPE_ROLE:
                continue
            try:
                problem = comp.variable_change(
                    change.role, change.remote, change.local, remote_version.type or local_type
                )
            except MalformedComposite as exc:
                problem = f"the charter's {change.prompt!r} as {remote_version.type}: {exc}"
            if problem:
                return ("malformed", f"{_label(remote_version)}: {problem}")
        return changes

    def _decide_type(
        self, read: CompositeRead, local_type: str, keep: Mapping[str, Side]
    ) -> PartChange:
        """The three-way decision on the composite's template type (settled across composites
        by ``template_types.settle``)."""
        assert read.pulled is not None
        spec = self.config.composites[read.name]
        change = PartChange(
            read.name,
            template_types.TYPE_ROLE,
            spec.system_prompt,
            "conflict",
            local_type,
            str(read.pulled.type),
            _label(read.pulled),
        )
        kept = {keep.get(prompt) for prompt in spec.parts().values()}
        base = self.base_of(read)
        if "charter" in kept:
            change.decision = "keep_local"
        elif base is None:
            side = self.config.first_contact
            if side != "conflict":
                change.decision = "keep_local" if side == "charter" else "adopt"
            change.why = "no base: prompt-sync never recorded a version both agreed on"
        elif read.pulled.id < base.version_id and _is_recorded(read.pulled):
            change.decision = "keep_local"  # the pull environment points to an older synced one
        elif base.template_type == local_type:
            change.decision = "adopt"
        elif base.template_type == read.pulled.type:
            change.decision = "keep_local"
        if change.decision == "conflict" and "opik" in kept:
            change.decision = "adopt"
        return change

    def _decide(self, change: PartChange, read: CompositeRead) -> None:
        assert read.pulled is not None
        base = self.base_of(read)
        if base is None:
            side = self.config.first_contact
            if side == "conflict":
                change.why = (
                    "no base: the charter and Opik differ and prompt-sync never recorded "
                    "a version both agreed on"
                )
            else:
                change.decision = "keep_local" if side == "charter" else "adopt"
                change.why = f"first contact: configuration trusts the {side}"
            return
        if read.pulled.id < base.version_id and _is_recorded(read.pulled):
            # The pull environment still points to a version synced before the base.
            change.decision = "keep_local"
            change.why = "the pull environment points to a version synced before the base"
        elif base.has(change.role, change.local):
            change.decision, change.why = "adopt", f"changed in Opik since {base.label}"
        elif base.has(change.role, change.remote):
            change.decision, change.why = "keep_local", "changed in the charter since the last sync"
        else:
            change.why = f"changed in both the charter and Opik since {base.label}"

    def _agree_on_shared_parts(self, plan: PullPlan) -> None:
        """A shared prompt is adopted only when every composite that changed it agrees."""
        by_prompt: dict[str, list[PartChange]] = {}
        for change in plan.changes:
            by_prompt.setdefault(change.prompt, []).append(change)
        for prompt, changes in by_prompt.items():
            proposals = [c for c in changes if c.decision == "adopt"]
            conflicts = [c for c in changes if c.decision == "conflict"]
            if not conflicts and len({c.remote for c in proposals}) > 1:
                for change in proposals:
                    change.decision = "conflict"
                    change.why = "composites in Opik disagree on this shared prompt"
                conflicts = proposals
            if conflicts:
                plan.conflicts[prompt] = [c for c in changes if c.decision != "keep_local"]
            elif proposals:
                plan.adoptions[prompt] = proposals[0].remote

    def apply_pull(
        self, charter: Charter, plan: PullPlan, report: SyncReport, *, write: bool = True
    ) -> Charter:
        """Write the adopted parts into the charter (once, atomically) and report the pull.

        A composite whose Opik version now equals its rebuild from the charter becomes the base
        right away, so a later local edit is a clean push even if this run pushes nothing.
        With ``write=False`` (or in a dry run) it only reports what applying would do.
        """
        write = write and not self.dry_run
        updated = charter.with_templates(plan.adoptions) if plan.adoptions else charter
        updated = updated.with_types(plan.type_adoptions) if plan.type_adoptions else updated
        if (plan.adoptions or plan.type_adoptions) and write:
            try:
                write_charter(updated)
            except CharterChanged as exc:
                updated = charter
                _leave_unpulled(
                    plan, self.config, f"{exc}; Opik's change is still there: run the sync again"
                )
        for name, (outcome, reason) in sorted(plan.failures.items()):
            report.add(Action("pull", name, outcome, ok=False, reason=reason))
        reads = [r for name, r in sorted(plan.reads.items()) if name not in plan.failures]
        blocked = plan.blocked_composites(self.config)
        kept_local = {c.composite for c in plan.changes if c.decision == "keep_local"}
        report.add(
            *self._map(
                "finish pull",
                reads,
                lambda read: self._pull_outcome(read, updated, plan, write, blocked, kept_local),
                inline=lambda read: self._is_base(read.name, read.pulled, updated),
            )
        )
        if write:
            self.state.save()  # after the charter: see "How the sync decides" in the README
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
            users = self.config.composites_using(prompt)
            if len(users) > 1:
                spread = sorted(set(users) - set(sources))
                report.warnings.append(
                    f"shared prompt {prompt!r} changed in Opik ({', '.join(sources)})"
                    + (f"; the change spreads to {', '.join(spread)} in step 3" if spread else "")
                )
        for prompt, template_type in sorted(plan.type_adoptions.items()):
            if prompt not in plan.adoptions:
                report.add(
                    Action(
                        "pull",
                        prompt,
                        "adopted",
                        reason="from Opik" + _type_note(charter, plan, prompt),
                        diff=unified_diff(
                            f"type: {charter[prompt].type}\n", f"type: {template_type}\n", prompt
                        ),
                    )
                )
        return updated

    def _pull_outcome(
        self,
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
            return Action(
                "pull", name, "conflict", ok=False, reason=self._conflict_help(name, plan)
            )
        if read.pulled is None:
            environment = self.config.opik.pull_environment
            where = f"in Opik's {environment!r} environment" if environment else "in Opik"
            return Action("pull", name, "absent", reason=f"no version {where} yet")
        try:
            recorded = self._record_base_if_rebuilt(updated, read, read.pulled, "pull", write=write)
        except OpikError as exc:
            return Action(
                "pull", name, "failed", ok=False, reason=f"could not record the base: {exc}"
            )
        if recorded is not None:
            return recorded
        return Action("pull", name, "kept_local" if name in kept_local else "unchanged")

    def _conflict_help(self, composite: str, plan: PullPlan) -> str:
        sync = f"{self.command_prefix} sync"
        lines = []
        for prompt, changes in sorted(plan.conflicts.items()):
            if composite not in self.config.composites_using(prompt):
                continue
            mine = [c for c in changes if c.composite == composite] or changes[:1]
            for change in mine:
                lines.append(
                    f"conflict on {prompt!r} ({change.why}). The charter "
                    f"{self.config.charter} has:\n{_indent(change.local)}\n"
                    f"Opik's {change.composite} {change.remote_label} has:\n{_indent(change.remote)}"
                )
            if len({c.remote for c in changes}) > 1:
                # Keeping "Opik's text" is ambiguous: the user must name whose version wins.
                choices = " or ".join(
                    f"`{sync} --keep-opik {from_composite(prompt, c.composite)}`"
                    for c in sorted(changes, key=lambda c: c.composite)
                )
                lines.append(
                    f"Composites in Opik hold different versions of {prompt!r}. Keep one with "
                    f"{choices}, or keep the charter's with `{sync} --keep-charter {prompt}`."
                )
            else:
                lines.append(
                    f"Resolve with `{sync} --keep-charter {prompt}` or "
                    f"`{sync} --keep-opik {prompt}`, or edit the charter's {prompt!r} "
                    "to the text you want and run `--keep-charter` once."
                )
        return "\n".join(lines)

    # Step 2: individual prompts ----------------------------------------------------------------

    def push_individuals(
        self, charter: Charter, report: SyncReport, plan: PullPlan | None = None
    ) -> None:
        """Every charter prompt becomes a text prompt in Opik (a version only when it changed)."""
        blocked = set(plan.conflicts) if plan else set()
        names = list(charter.prompts)
        for name in names:
            if name in blocked:
                report.add(
                    Action(
                        "individual", name, "blocked", ok=False, reason="unresolved pull conflict"
                    )
                )
        todo = [n for n in names if n not in blocked]
        report.add(
            *self._map("push individuals", todo, lambda n: self._push_individual(charter, n))
        )
        if not self.dry_run:
            self.state.save()

    def _push_individual(self, charter: Charter, name: str) -> Action:
        prompt = charter[name]
        sha = text_sha256(prompt.template, prompt.type)
        seen = self.state.individual(name)
        listed = self.state.listed(name)
        if listed is not None and listed.template_structure != "text":
            reason = f"{name!r} exists in Opik as a {listed.template_structure} prompt"
            return Action("individual", name, "failed", ok=False, reason=reason)
        # Opik holds what this copy last synced: no read, unless a dry run wants to show a diff.
        known = seen if self.state.unchanged_in_opik(seen, name) else None
        if known is not None and known.sha256 == sha:
            return Action("individual", name, "unchanged", version=_ref_label(known))
        try:
            current = None
            if (known is None or self.dry_run) and not self.state.absent_from_opik(name):
                current = self.gateway.get_version(name)
            if current is not None and current.template_structure != "text":
                return Action(
                    "individual",
                    name,
                    "failed",
                    ok=False,
                    reason=f"{name!r} exists in Opik as a {current.template_structure} prompt",
                )
            if current is not None and (current.template, current.type) == (
                prompt.template,
                prompt.type,
            ):
                self._saw_individual(name, current, sha, created=0)
                return Action("individual", name, "unchanged", version=_label(current))
            diff = None
            if known is None or current is not None:
                diff = unified_diff(current.template if current else "", prompt.template, name)
            if self.dry_run:
                return Action("individual", name, "created", reason="dry run", diff=diff)
            commit = comp.new_commit()
            created = self.gateway.create_version(
                name,
                template=prompt.template,
                template_type=prompt.type,
                structure="text",
                metadata=comp.provenance(
                    {"text": name}, comp.content_hash(prompt.template, prompt.type), commit
                ),
                change_description=CHANGE_DESCRIPTION,
                commit=commit,
            )
        except OpikError as exc:
            return Action("individual", name, "failed", ok=False, reason=str(exc))
        self._saw_individual(name, created, sha, created=1)
        return Action("individual", name, "created", version=_label(created), diff=diff)

    def _saw_individual(self, name: str, version: RemoteVersion, sha: str, *, created: int) -> None:
        self.state.record_individual(
            name,
            IndividualSeen(
                prompt_id=version.prompt_id,
                version_count=self.state.count_after(name, version.prompt_id, created),
                version_id=version.id,
                version_number=version.version_number,
                commit=version.commit,
                sha256=sha,
            ),
        )

    # Step 3: composites ----------------------------------------------------------------------

    def push_composites(
        self,
        charter: Charter,
        report: SyncReport,
        plan: PullPlan | None = None,
        reads: dict[str, CompositeRead] | None = None,
    ) -> dict[str, CompositeRead]:
        """Every composite rebuilt from the charter becomes a chat prompt, never burying Opik's edits.

        Uses the pull's reads (or ``reads``) and reads the others; returns every composite's
        read, updated with what the push created, i.e. Opik's state after the push.
        """
        blocked = plan.blocked_composites(self.config) if plan else set()
        reads = plan.reads if plan else reads if reads is not None else {}
        failures = dict(plan.failures) if plan else {}
        missing = [n for n in self.config.composites if n not in reads or reads[n].error]
        reads.update(self.read_composites(missing, charter=charter) if missing else {})
        for name in self.config.composites:
            race = self._write_race(name)
            if race is not None:
                report.add(
                    Action(
                        "composite",
                        name,
                        "blocked",
                        ok=False,
                        reason=self._race_help(name, race, reads.get(name)),
                    )
                )
            elif name in blocked:
                report.add(
                    Action(
                        "composite", name, "blocked", ok=False, reason="unresolved pull conflict"
                    )
                )
        todo = [n for n in self.config.composites if n not in blocked and not self._write_race(n)]
        report.add(
            *self._map(
                "push composites",
                todo,
                lambda n: self._push_composite(
                    charter, n, reads[n], failures.get(n), pulled=plan is not None
                ),
                inline=lambda n: self._is_base(n, reads[n].latest, charter),
            )
        )
        if not self.dry_run:
            self.state.save()
        return reads

    def _push_composite(
        self,
        charter: Charter,
        name: str,
        read: CompositeRead,
        pull_failure: tuple[str, str] | None,
        *,
        pulled: bool,
    ) -> Action:
        spec = self.config.composites[name]
        messages, template_type, digest, template = self._rebuild(charter, name)
        # A version this run's pull read without failure has been merged into the charter.
        merged_id = read.pulled.id if pulled and pull_failure is None and read.pulled else None
        if read.error:
            return Action("composite", name, "failed", ok=False, reason=read.error)
        current = read.latest
        try:
            if current is not None:
                if current.template_structure != "chat":
                    reason = f"{name!r} exists in Opik as a {current.template_structure} prompt"
                    return Action("composite", name, "failed", ok=False, reason=reason)
                recorded = self._record_base_if_rebuilt(charter, read, current, "composite")
                if recorded is not None:
                    return recorded
            # The "current" version a push must not bury: the pull environment's, if configured.
            guard = current
            if self.config.opik.pull_environment and read.pulled is not None:
                guard = read.pulled
            if guard is not None and guard.id != merged_id and not self._may_replace(read, guard):
                return Action(
                    "composite",
                    name,
                    "failed",
                    ok=False,
                    reason=_not_pulled(name, guard, pull_failure, self.command_prefix),
                )
            diff = unified_diff(
                _pretty(current.template if current else ""), _pretty_messages(messages), name
            )
            if self.dry_run:
                return Action("composite", name, "created", reason="dry run", diff=diff)
            commit = comp.new_commit()
            created = self.gateway.create_version(
                name,
                template=template,
                template_type=template_type,
                structure="chat",
                metadata=comp.provenance(spec.parts(), digest, commit),
                change_description=CHANGE_DESCRIPTION,
                commit=commit,
            )
            # Opik has no compare-and-set: the version below ours must be the one this run read.
            theirs = self._slipped_in(created, current)
        except OpikError as exc:
            return Action("composite", name, "failed", ok=False, reason=str(exc))
        read.latest = created
        if theirs is not None:
            race = WriteRace(ours=_ref(created), theirs=_ref(theirs))
            self._agree(charter, name, created, version_count=0, race=race)
            reason = self._race_help(name, race, read, theirs=theirs)
            return Action("composite", name, "conflict", ok=False, reason=reason, diff=diff)
        self._agree(charter, name, created, self.state.count_after(name, created.prompt_id, 1))
        return Action("composite", name, "created", version=_label(created), diff=diff)

    def _slipped_in(
        self, created: RemoteVersion, read: RemoteVersion | None
    ) -> RemoteVersion | None:
        """The version another writer saved between this run's read and its write, if any."""
        newest = self.gateway.newest_versions(created.prompt_id, _RACE_WINDOW)
        ids = [v.id for v in newest]
        if created.id not in ids:
            return None  # buried under many newer versions: the next run reads and pulls them
        below = ids.index(created.id) + 1
        if below < len(newest) and newest[below].id != _id(read):
            return newest[below]
        return None

    def _record_base_if_rebuilt(
        self,
        charter: Charter,
        read: CompositeRead,
        version: RemoteVersion,
        step: Literal["pull", "composite"],
        *,
        write: bool = True,
    ) -> Action | None:
        """When ``version`` equals the rebuild, make it the base (a tag, never a new version).

        Returns None when it differs. The read is updated with the tag, so a later step of the
        same run (or another engine sharing the read) doesn't tag it again.
        """
        # Agreed: the state's base (the version count is current only when it is the latest).
        entry = self.state.composite(read.name)
        latest = read.latest is not None and read.latest.id == version.id
        count = self.state.count_after(read.name, version.prompt_id, 0) if latest else 0
        if (
            entry is not None
            and (entry.version_id, entry.version_count) == (version.id, count)
            and self._rebuilds_base(charter, read.name, entry)
        ):
            return Action(step, read.name, "unchanged", version=_label(version))  # as recorded
        messages, template_type, digest, _ = self._rebuild(charter, read.name)
        if _messages_or_none(version) != messages or version.type != template_type:
            return None
        already = (entry is not None and entry.version_id == version.id) or comp.is_recorded_base(
            version.metadata, version.tags, digest, version.commit
        )
        write = write and not self.dry_run
        if write and not already:  # provenance for the performance view and first contact
            tag = comp.base_tag(digest)
            self.gateway.add_tag(version.id, tag)
            tagged = replace(version, tags=[*version.tags, tag])
            if read.pulled is not None and read.pulled.id == version.id:
                read.pulled = tagged
            if read.latest is not None and read.latest.id == version.id:
                read.latest = tagged
        if write:
            self._agree(charter, read.name, version, count)
        if already:
            return Action(step, read.name, "unchanged", version=_label(version))
        return Action(
            step,
            read.name,
            "recorded_base",
            version=_label(version),
            reason="Opik's version matches the charter: recorded as the new base",
        )

    def _is_base(self, name: str, version: RemoteVersion | None, charter: Charter) -> bool:
        """True when ``version`` is the composite's base in the state and the charter still
        rebuilds it: every step decides such a composite without a request."""
        if version is None:
            return False
        entry = self.state.composite(name)
        return _id_of(entry) == version.id and self._rebuilds_base(charter, name, entry)

    def _rebuilds_base(self, charter: Charter, name: str, entry: CompositeBase | None) -> bool:
        """True when the charter's rebuild of the composite is the state's base as recorded
        (same parts, texts and type, no write race): that version needs no parse or compare."""
        if entry is None or entry.write_race is not None:
            return False
        # Asked for every composite in every step: answered once per charter and entry.
        seen = self._rebuilds_seen.get(name)
        if seen is not None and seen[0] is charter and seen[1] is entry:
            return seen[2]
        rebuilds = self._same_parts(charter, name, entry)
        self._rebuilds_seen[name] = (charter, entry, rebuilds)
        return rebuilds

    def _same_parts(self, charter: Charter, name: str, entry: CompositeBase) -> bool:
        spec = self.config.composites[name]
        template_type = charter[spec.system_prompt].type
        if template_type != entry.template_type:
            return False
        for role, prompt in (("system", spec.system_prompt), ("user", spec.user_prompt)):
            part = entry.parts.get(role)  # type: ignore[call-overload]
            if part is None or part.prompt != prompt:
                return False
            if part.sha256 != text_sha256(charter[prompt].template, template_type):
                return False
        return True

    def _rebuild(self, charter: Charter, name: str) -> Rebuild:
        """The composite rebuilt from the charter."""
        spec = self.config.composites[name]
        system, user = charter[spec.system_prompt], charter[spec.user_prompt]
        return _rebuilt(system.template, user.template, system.type)

    def _may_replace(self, read: CompositeRead, version: RemoteVersion) -> bool:
        """Only a version both sides agreed on (the base) may be superseded by a push."""
        base = self.base_of(read)
        if base is None:
            return self.config.first_contact == "charter"
        if base.version_id == version.id:
            return True
        try:
            parts = self._parts_of(version)
        except MalformedComposite:
            return False
        return version.type == base.template_type and all(
            base.has(role, parts[role]) for role in comp.ROLES
        )

    # Bases -------------------------------------------------------------------------------------

    def base_of(self, read: CompositeRead) -> Base | None:
        """The state's base for this charter copy; at first contact (no entry in the state), the
        newest version with a genuine provenance record in Opik (history read only if needed)."""
        entry = self.state.composite(read.name)
        if entry is not None:
            hashes = {role: part.sha256 for role, part in entry.parts.items()}
            return Base(entry.version_id, _ref_label(entry), entry.template_type, hashes)
        with self._bases_lock:
            if read.name in self._bases:
                return self._bases[read.name]
        base = self._find_base(read.latest)
        with self._bases_lock:
            self._bases[read.name] = base
        return base

    def _find_base(self, latest: RemoteVersion | None) -> Base | None:
        if latest is None:
            return None
        candidates: Iterable[RemoteVersion] = self.gateway.history(latest.prompt_id)
        # The latest version is usually ours: then it is the base and no history read is needed.
        for version in _prepend(latest, candidates):
            if _is_recorded(version):
                try:
                    parts = self._parts_of(version)
                except MalformedComposite:
                    continue
                template_type = version.type or "mustache"
                hashes = {role: text_sha256(parts[role], template_type) for role in comp.ROLES}
                return Base(version.id, _label(version), version.type, hashes)
        return None

    def _agree(
        self,
        charter: Charter,
        name: str,
        version: RemoteVersion,
        version_count: int,
        race: WriteRace | None = None,
    ) -> None:
        """Record ``version`` (equal to the composite's rebuild from ``charter``) as the base."""
        spec = self.config.composites[name]
        template_type = charter[spec.system_prompt].type
        parts = {
            role: PartBase(
                prompt=prompt, sha256=text_sha256(charter[prompt].template, template_type)
            )
            for role, prompt in spec.parts().items()
        }
        entry = CompositeBase(
            prompt_id=version.prompt_id,
            version_count=version_count,
            version_id=version.id,
            version_number=version.version_number,
            commit=version.commit,
            template_type=template_type,
            parts=parts,  # type: ignore[arg-type]
            write_race=race,
        )
        self.state.record_composite(name, entry)
        if name in self._bases:
            with self._bases_lock:
                self._bases.pop(name, None)

    # Write races -------------------------------------------------------------------------------

    def _write_race(self, name: str) -> WriteRace | None:
        entry = self.state.composite(name)
        return entry.write_race if entry is not None else None

    def settle_write_races(self, keep: Mapping[str, Side], report: SyncReport) -> None:
        """Resolve recorded write races the user named: ``--keep-charter NAME`` keeps this copy's
        version (already Opik's newest); ``--keep-opik NAME`` restores the other writer's version
        as the newest, which the pull then adopts (this copy's version is the base)."""
        for name in self.config.composites:
            entry = self.state.composite(name)
            side = keep.get(name)
            if entry is None or entry.write_race is None or side is None:
                continue
            theirs = entry.write_race.theirs
            if side == "opik" and not self.dry_run:
                try:
                    self.gateway.restore_version(entry.prompt_id, theirs.version_id)
                except OpikError as exc:
                    reason = f"could not restore {_ref_label(theirs)}: {exc}"
                    report.add(Action("pull", name, "failed", ok=False, reason=reason))
                    continue
            if not self.dry_run:
                settled = entry.model_copy(update={"write_race": None, "version_count": 0})
                self.state.record_composite(name, settled)

    def _race_help(
        self,
        name: str,
        race: WriteRace,
        read: CompositeRead | None,
        theirs: RemoteVersion | None = None,
    ) -> str:
        ours_text = theirs_text = "(could not be read)"
        try:
            if theirs is None:
                theirs = self.gateway.get_version(name, commit=race.theirs.commit)
            ours = (
                read.latest
                if read and read.latest and read.latest.id == race.ours.version_id
                else None
            )
            ours = ours or self.gateway.get_version(name, commit=race.ours.commit)
            ours_text = _pretty(ours.template) if ours else ours_text
            theirs_text = _pretty(theirs.template) if theirs else theirs_text
        except OpikError:
            pass
        return (
            f"write race on {name!r}: another writer saved {_ref_label(race.theirs)} while this "
            f"copy wrote {_ref_label(race.ours)}, which now hides it (Opik has no "
            f"compare-and-set). This copy ({self.config.charter}) wrote:\n{_indent(ours_text)}\n"
            f"The other writer saved:\n{_indent(theirs_text)}\n"
            f"Keep this copy's version with `prompt-sync sync --keep-charter {name}`, or take "
            f"the other one with `prompt-sync sync --keep-opik {name}` (restores it as the newest "
            "version; the pull then adopts it)."
        )

    def _parts_of(self, version: RemoteVersion) -> Parts:
        if version.template_structure != "chat":
            raise MalformedComposite(f"is a {version.template_structure} prompt, not a chat prompt")
        return comp.decompose(comp.parse_chat_template(version.template), version.type)

    # Concurrency -------------------------------------------------------------------------------

    def _map(
        self,
        label: str,
        items: list[T],
        work: Callable[[T], R],
        *,
        inline: Callable[[T], bool] | None = None,
    ) -> list[R]:
        """Run work over items on a bounded pool, in order; reports progress as items finish.

        Items ``inline`` says need no request (the state settles them) run on this thread:
        pure-Python work spread over many threads only queues for the GIL (a no-op run of
        10,000 composites spent about 0.3 s more on the pool than on one thread).
        """
        if not items:
            return []
        results: list[R] = [None] * len(items)  # type: ignore[list-item]
        pooled = []
        for index, item in enumerate(items):
            if inline is not None and inline(item):
                results[index] = work(item)
            else:
                pooled.append(index)
        done = len(items) - len(pooled)
        if self._progress and done:
            self._progress(label, done, len(items))
        if not pooled:
            return results
        workers = min(self.config.opik.max_concurrency, len(pooled))
        # A few lanes of many items each: a future per item costs more than most items' work
        # (a prompt the state says is unchanged needs no request). Striding spreads the items
        # that do need requests, often neighbours in the table, over every worker.
        lanes = min(len(pooled), workers * 4)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prompt-sync") as pool:
            lane_results = pool.map(
                lambda lane: [work(items[i]) for i in pooled[lane::lanes]], range(lanes)
            )
            for lane, finished in enumerate(lane_results):
                for index, result in zip(pooled[lane::lanes], finished, strict=True):
                    results[index] = result
                done += len(finished)
                if self._progress:
                    self._progress(label, done, len(items))
        return results


class Rebuild(NamedTuple):
    """A composite rebuilt from the charter: its messages, their template type, content hash
    and the chat template Opik stores (the SDK's ``json.dumps``)."""

    messages: list[dict[str, str]]
    template_type: str
    digest: str
    template: str


@functools.lru_cache(maxsize=65536)  # a run rebuilds each composite in every step
def _rebuilt(system: str, user: str, template_type: str) -> Rebuild:
    messages = Parts(system, user).messages()
    digest = comp.content_hash(messages, template_type)
    return Rebuild(messages, template_type, digest, _chat_template(messages))


def _prepend(first: RemoteVersion, rest: Iterable[RemoteVersion]) -> Iterable[RemoteVersion]:
    yield first
    for version in rest:
        if version.id != first.id:
            yield version


# How many of a prompt's newest versions the write-race check reads after a write.
_RACE_WINDOW = 10


def _ref(version: RemoteVersion) -> VersionRef:
    return VersionRef(
        version_id=version.id, version_number=version.version_number, commit=version.commit
    )


def _ref_label(ref: VersionRef | CompositeBase | IndividualSeen) -> str:
    return f"{ref.version_number or '?'} ({ref.commit})"


def _id(version: RemoteVersion | None) -> str | None:
    return version.id if version else None


def _is_recorded(version: RemoteVersion) -> bool:
    messages = _messages_or_none(version)
    if messages is None:
        return False
    digest = comp.content_hash(messages, version.type or "mustache")
    return comp.is_recorded_base(version.metadata, version.tags, digest, version.commit)


def _leave_unpulled(plan: PullPlan, config: SyncConfig, reason: str) -> None:
    """The charter could not take the pull: the composites it came from count as not pulled,
    so no base is recorded on them and step 3 won't push over them."""
    sources = {c.composite for c in plan.changes if c.decision == "adopt"}
    sources |= {name for prompt in plan.type_adoptions for name in config.composites_using(prompt)}
    for name in sources:
        plan.failures.setdefault(name, ("failed", reason))
    plan.adoptions.clear()
    plan.type_adoptions.clear()


def _type_note(charter: Charter, plan: PullPlan, prompt: str) -> str:
    if prompt not in plan.type_adoptions:
        return ""
    return f" (template type {charter[prompt].type} -> {plan.type_adoptions[prompt]})"


def _not_pulled(
    name: str,
    version: RemoteVersion,
    pull_failure: tuple[str, str] | None,
    command_prefix: str = "prompt-sync",
) -> str:
    if pull_failure and pull_failure[0] == "malformed":
        return (
            f"Opik's version can't be split into the charter's parts ({pull_failure[1]}); fix it "
            f"in Opik, or replace it with `{command_prefix} sync --keep-charter {name}`"
        )
    return f"changed in Opik since the last sync ({_label(version)}): pull first"


def _messages_or_none(version: RemoteVersion) -> list[dict[str, object]] | None:
    if version.template_structure != "chat":
        return None
    try:
        return comp.parse_chat_template(version.template)
    except MalformedComposite:
        return None


def _chat_template(messages: list[dict[str, str]]) -> str:
    import json

    # The SDK's own serialisation (json.dumps defaults), so Opik's UI shows what the SDK would.
    return json.dumps(messages)


def _pretty(template: str) -> str:
    import json

    try:
        return _pretty_messages(json.loads(template)) if template else ""
    except json.JSONDecodeError:
        return template


def _pretty_messages(messages: object) -> str:
    if not isinstance(messages, list):
        return str(messages)
    return "".join(
        f"[{m.get('role')}]\n{m.get('content')}\n" if isinstance(m, dict) else f"{m}\n"
        for m in messages
    )


def _id_of(entry: CompositeBase | None) -> str | None:
    return entry.version_id if entry is not None else None


def _label(version: RemoteVersion) -> str:
    return f"{version.version_number or '?'} ({version.commit})"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
