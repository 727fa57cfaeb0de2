"""A stateful model of the sync (hypothesis): random edits on either side, random faults from the
emulator, random ``--keep-*`` resolutions, restores, template-type switches and runs killed
mid-way, against the real engine, the real SDK over HTTP and real files.

After every step it checks the contract's promises (``sync-semantics.md``):

- the charter always loads (valid JSON, prompts valid, each composite of one type);
- no edit lost: a charter edit that never reached Opik is still in the charter after any run,
  unless ``--keep-opik`` named that prompt;
- no remote version buried: a version someone saved in Opik is pushed over only when its
  parts were merged (equal to the base or now in the charter) or ``--keep-charter`` said so;
- never silent: a run that reports no failure leaves every prompt in Opik equal to the charter;
- counters equal to what happened: versions created, prompts pulled, one result per prompt,
  never two versions of one prompt in one run;
- a second clean run writes nothing.

``test_model.py`` runs it bounded for CI; ``benchmarks/model_check.py`` runs it longer and
prints its figures. The machine's world (Opik URL, workspace, SDK client) is given by the caller.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from opik.rest_api.core.api_error import ApiError

from opik_emulator.faults import FaultRule
from prompt_sync_pipeline.opik import RemoteVersion
from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.sync.engine import run_sync
from prompt_sync_pipeline.sync.report import SyncReport
from prompt_sync_tests.forseti import COMPOSITES, PROMPTS, Forseti, make_forseti
from prompt_sync_tests.forseti import resolutions as keep_choices

Content = tuple[str, str, str]  # system, user, type

# Faults a run may meet: transient ones it retries through, lost answers after a commit, reads
# or tag writes that keep failing. (path regex, method, options)
FAULTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "none": ("", "", {}),
    "write_503_once": (r"/prompts/versions$", "POST", {"status": 503, "times": 1}),
    "writes_down": (r"/prompts/versions$", "POST", {"status": 503, "times": None}),
    "answers_lost": (
        r"/prompts/versions$",
        "POST",
        {"drop": True, "after_commit": True, "times": None},
    ),
    "reads_down": (r"/prompts/versions/retrieve$", "POST", {"status": 503, "times": None}),
    "tags_down": (r"/prompts/versions$", "PATCH", {"status": 500, "times": None}),
}


# Weighted by repetition: most steps are plain edits, most runs meet no fault.
CHARTER_EDITS = ("text",) * 4 + ("type switch",)
OPIK_CHANGES = (
    ("edit",) * 4
    + ("restore",) * 3
    + (
        "drop a variable",
        "type switch",
        "type switch everywhere",
    )
)
RUN_FAULTS = ("none",) * 5 + tuple(name for name in FAULTS if name != "none")
RESOLUTIONS = (None, None, "charter", "opik")


@dataclass
class World:
    """Where the model runs: an emulator (for faults), one workspace, an SDK client."""

    url: str
    workspace: str
    control: Any
    client: Any


@dataclass
class Figures:
    """What the model did, summed over every example (the long run prints it)."""

    steps: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)


class Killed(Exception):
    """Stands for the process dying: raised from the run's progress callback."""


class SyncModel(RuleBasedStateMachine):
    world: World
    figures: Figures

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="prompt-sync-model-"))
        self.project = f"model-{uuid.uuid4().hex[:10]}"
        self.forseti: Forseti = make_forseti(self.directory, self.project)
        self.config = self.forseti.config
        self.opik = OpikProject.connect(self.config.opik)
        self.agreed: dict[str, Content | None] = dict.fromkeys(COMPOSITES)
        self.edits = 0
        self.rules: list[FaultRule] = []
        self.unresolved: list[str] = []  # prompts and composites the last run failed on

    # Setup and teardown ------------------------------------------------------------------------

    @initialize()
    def first_sync(self) -> None:
        report = run_sync(self.config)
        assert not report.failed, report.to_json()
        self._update_agreed()

    def teardown(self) -> None:
        self._clear_faults()
        self._remove_prompts()
        self.opik.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _remove_prompts(self) -> None:
        """Delete this example's prompts. The examples share a workspace, and Opik looks a
        prompt name up in every project of the workspace when the asked project lacks it
        (for reads and for version writes alike): prompts left behind in this example's
        project would be the next example's "other writer"."""
        rest = self.world.client.rest_client
        try:
            project_id = rest.projects.retrieve_project(name=self.project).id
        except ApiError as error:
            if error.status_code == 404:  # the example never reached Opik
                return
            raise
        ids = [
            p.id for p in rest.prompts.get_prompts(project_id=project_id, size=1000).content or []
        ]
        if ids:
            rest.prompts.delete_prompts_batch(ids=ids)

    # Edits in the charter (a type switch covers every prompt: the forseti composites share the
    # persona, so one type for all) -------------------------------------------------------------

    @rule(prompt=st.sampled_from(PROMPTS), kind=st.sampled_from(CHARTER_EDITS))
    def edit_charter(self, prompt: str, kind: str) -> None:
        self._count(f"charter: {kind}")
        document = self.forseti.charter()
        if kind == "text":
            document[prompt]["template"] += f" [charter edit {self._next()}]"
        else:
            for entry in document.values():
                entry["type"] = _other(entry.get("type", "mustache"))
        self._save(document)

    # Changes in Opik -----------------------------------------------------------------------------

    @rule(
        composite=st.sampled_from(COMPOSITES),
        kind=st.sampled_from(OPIK_CHANGES),
        role=st.sampled_from((0, 1)),
        pick=st.integers(0, 20),
    )
    def change_opik(self, composite: str, kind: str, role: int, pick: int) -> None:
        self._count(f"opik: {kind}")
        latest = self.opik.prompts.get_version(composite)
        if kind == "restore":  # ``pick`` counts from the oldest version
            history = list(self.opik.prompts.history(latest.prompt_id))[::-1]
            self.opik.prompts.restore_version(latest.prompt_id, history[pick % len(history)].id)
            return
        targets = COMPOSITES if kind == "type switch everywhere" else (composite,)
        for name in targets:
            latest = self.opik.prompts.get_version(name)
            messages, template_type = _messages(latest), latest.type or "mustache"
            if messages is None:
                continue
            if kind == "edit":
                messages[role]["content"] += f" [opik edit {self._next()}]"
            elif kind == "drop a variable":
                messages[1]["content"] = messages[1]["content"].replace("{{post}}", "the post")
            else:
                template_type = _other(template_type)
            self._create(name, messages, template_type)

    # Runs ------------------------------------------------------------------------------------

    @rule(fault=st.sampled_from(RUN_FAULTS), resolve=st.sampled_from(RESOLUTIONS))
    def sync(self, fault: str, resolve: str | None) -> None:
        """A run; ``resolve`` answers one of the last run's failures with ``--keep-*``."""
        self._count("sync")
        resolutions = self._resolution(resolve)
        before = self._snapshot()
        self._inject(fault)
        try:
            report = run_sync(self.config, keep=keep_choices(self.config, resolutions))
        finally:
            self._clear_faults()
        after = self._snapshot()
        self.figures.runs["failed" if report.failed else "clean"] += 1
        self.unresolved = sorted({a.subject for a in report.actions if not a.ok})
        self._check_run(before, after, resolutions)
        self._check_counters(report, before, after)
        if not report.failed:
            self._check_in_step(after)
            self._check_second_run_quiet()
        self._update_agreed()

    def _resolution(self, resolve: str | None) -> dict[str, str]:
        if resolve is None or not self.unresolved:
            return {}
        subject = self.unresolved[self.edits % len(self.unresolved)]
        if subject in COMPOSITES and resolve == "opik":
            return {}  # --keep-opik names prompts only
        self.figures.runs[f"--keep-{resolve}"] += 1
        return {subject: resolve}

    @rule(fault=st.sampled_from(("none", "answers_lost")), at=st.integers(1, 18))
    def killed_sync(self, fault: str, at: int) -> None:
        self._count("killed sync")
        before = self._snapshot()
        calls = 0

        def die(label: str, done: int, total: int) -> None:
            nonlocal calls
            calls += 1
            if calls == at:
                raise Killed(label)

        self._inject(fault)
        try:
            run_sync(self.config, progress=die)
            self.figures.runs["outlived its kill"] += 1
        except Killed:
            self.figures.runs["killed"] += 1
        finally:
            self._clear_faults()
        self._check_run(before, self._snapshot(), {})
        self._update_agreed()

    @rule(prompt=st.sampled_from(PROMPTS), at=st.integers(1, 18))
    def sync_while_a_teammate_saves(self, prompt: str, at: int) -> None:
        """An editor saves the charter at a random point of a run (editors don't take the lock)."""
        self._count("sync while a teammate saves")
        before = self._snapshot()
        calls, saved = 0, ""
        found: dict[str, Any] = {}  # the file as the teammate found it

        def save(label: str, done: int, total: int) -> None:
            nonlocal calls, saved
            calls += 1
            if calls == at:
                document = self.forseti.charter()
                found.update(json.loads(json.dumps(document)))
                document[prompt]["template"] += f" [saved during a run {self._next()}]"
                saved = document[prompt]["template"]
                self._save(document)

        run_sync(self.config, progress=save)
        after = self._snapshot()
        if saved:
            assert after.charter[prompt]["template"] == saved, "a teammate's save was overwritten"
            self._check("a save during a run survives")
        self._check_run(before, after, {}, edited=prompt)
        self._update_agreed(before, found or None)

    # Invariants ------------------------------------------------------------------------------

    @invariant()
    def charter_is_valid(self) -> None:
        from prompt_sync_pipeline.sync.engine import SyncEngine

        SyncEngine(self.config, self.opik).load_charter()  # raises on anything invalid
        self._check("charter valid")

    def _check_run(
        self, before: Snapshot, after: Snapshot, keep: dict[str, str], edited: str = ""
    ) -> None:
        """No edit lost, no remote version buried, no duplicate version. ``edited``: a prompt
        someone else saved during the run."""
        for prompt in PROMPTS:
            entry = before.charter[prompt]
            if prompt == edited:
                continue
            reached_opik = any(
                agreed is not None and entry["template"] in agreed[:2]
                for agreed in (self.agreed[c] for c in self.config.composites_using(prompt))
            )
            if not reached_opik and keep.get(prompt) != "opik":
                assert after.charter[prompt]["template"] == entry["template"], (
                    f"charter edit of {prompt} lost: {entry['template']!r} -> "
                    f"{after.charter[prompt]['template']!r}"
                )
                self._check("no edit lost")
        for name in (*PROMPTS, *COMPOSITES):
            grew = after.counts.get(name, 0) - before.counts.get(name, 0)
            assert grew <= 1, f"{grew} versions of {name} in one run"
            self._check("no duplicate version")
        for composite in COMPOSITES:
            old, new = before.latest[composite], after.latest[composite]
            if old is None or new is None or old.id == new.id:
                continue
            self._check("no remote version buried")
            if keep.get(composite) == "charter":
                continue
            content = _content(old)
            assert content is not None, f"{composite}: unsplittable {_label(old)} pushed over"
            spec = self.config.composites[composite]
            agreed = self.agreed[composite]
            for index, prompt in enumerate((spec.system_prompt, spec.user_prompt)):
                now = after.charter[prompt]["template"]
                merged = (
                    (agreed and content[index] == agreed[index])
                    or content[index] == now
                    # The charter's own text (R = L): nothing of Opik's to merge, so a shared
                    # prompt adopted from another composite may spread over it.
                    or content[index] == before.charter[prompt]["template"]
                    or (prompt == edited and now.startswith(content[index]))  # saved on top
                )
                assert merged or keep.get(prompt) == "charter", (
                    f"{composite} {_label(old)} buried: its part {content[index]!r} is neither "
                    f"the base nor in the charter"
                )
            kept = {keep.get(spec.system_prompt), keep.get(spec.user_prompt)}
            merged_type = (agreed and content[2] == agreed[2]) or content[2] in {
                charter[spec.system_prompt].get("type", "mustache")
                for charter in (before.charter, after.charter)
            }
            assert merged_type or "charter" in kept, f"{composite}: type switch pushed over"

    def _check_counters(self, report: SyncReport, before: Snapshot, after: Snapshot) -> None:
        created = Counter(a.step for a in report.actions if a.outcome == "created")
        grew = {n: after.counts.get(n, 0) - before.counts.get(n, 0) for n in after.counts}
        assert created["composite"] == sum(grew.get(c, 0) for c in COMPOSITES), report.to_json()
        assert created["individual"] == sum(grew.get(p, 0) for p in PROMPTS), report.to_json()
        changed = {p for p in PROMPTS if before.charter[p] != after.charter[p]}
        assert report.counters["pull_changed"] == len(changed), (changed, report.to_json())
        counters = report.counters
        assert counters["individual_synced"] + counters["individual_failed"] == len(PROMPTS)
        assert counters["composite_synced"] + counters["composite_failed"] == len(COMPOSITES)
        self._check("counters equal to what happened")

    def _check_in_step(self, after: Snapshot) -> None:
        """A run with no failure leaves Opik equal to the charter, everywhere."""
        for prompt in PROMPTS:
            version, entry = after.latest[prompt], after.charter[prompt]
            assert version is not None and (version.template, version.type) == (
                entry["template"],
                entry.get("type", "mustache"),
            ), f"{prompt} differs in Opik after a run that reported no failure"
        for composite in COMPOSITES:
            assert _content(after.latest[composite]) == self._rebuild(after.charter, composite), (
                f"{composite} differs in Opik after a run that reported no failure"
            )
        self._check("never silent")

    def _check_second_run_quiet(self) -> None:
        before = self._snapshot()
        again = run_sync(self.config)
        assert {a.outcome for a in again.actions} == {"unchanged"}, again.to_json()
        assert self._snapshot().counts == before.counts
        self._check("second clean run writes nothing")

    # Helpers -----------------------------------------------------------------------------------

    def _snapshot(self) -> Snapshot:
        listed = self.opik.prompts.list_prompts()
        return Snapshot(
            charter=self.forseti.charter(),
            latest={n: self.opik.prompts.get_version(n) for n in (*PROMPTS, *COMPOSITES)},
            counts={name: prompt.version_count for name, prompt in listed.items()},
        )

    def _update_agreed(
        self, before: Snapshot | None = None, found: dict[str, Any] | None = None
    ) -> None:
        """The model's base: the last content on which Opik and the charter agreed, also as a
        teammate ``found`` the file when saving during the run, or that the run since
        ``before`` pushed (what the charter held when the run read it)."""
        snapshot = self._snapshot()
        for composite in COMPOSITES:
            latest = snapshot.latest[composite]
            content = _content(latest)
            charters = [snapshot.charter] + ([found] if found else [])
            if any(content == self._rebuild(charter, composite) for charter in charters) or (
                before is not None
                and latest is not None
                and latest.id != _id(before.latest[composite])
                and _pushed_by_prompt_sync(latest)
            ):
                self.agreed[composite] = content

    def _rebuild(self, charter: dict[str, Any], composite: str) -> Content:
        spec = self.config.composites[composite]
        system, user = charter[spec.system_prompt], charter[spec.user_prompt]
        return system["template"], user["template"], system.get("type", "mustache")

    def _create(self, composite: str, messages: list[dict[str, Any]], template_type: str) -> None:
        from opik.api_objects.prompt.types import PromptType

        self.world.client.create_chat_prompt(
            name=composite,
            messages=messages,
            type=PromptType(template_type),
            project_name=self.project,
        )

    def _save(self, document: dict[str, Any]) -> None:
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        self.forseti.charter_path.write_text(text, encoding="utf-8")

    def _inject(self, fault: str) -> None:
        path, method, options = FAULTS[fault]
        if path:
            scripted = FaultRule(
                path=path, method=method, workspace=self.world.workspace, **options
            )
            self.rules.append(self.world.control.add_fault(scripted))
        self.figures.runs[f"fault {fault}"] += 1

    def _clear_faults(self) -> None:
        for added in self.rules:
            self.world.control.remove_fault(added.id)
        self.rules.clear()

    def _next(self) -> int:
        self.edits += 1
        return self.edits

    def _count(self, step: str) -> None:
        self.figures.steps[step] += 1

    def _check(self, promise: str) -> None:
        self.figures.checks[promise] += 1


@dataclass
class Snapshot:
    charter: dict[str, Any]
    latest: dict[str, RemoteVersion | None]
    counts: dict[str, int]


def _messages(version: RemoteVersion | None) -> list[dict[str, Any]] | None:
    if version is None:
        return None
    try:
        messages = json.loads(version.template)
    except json.JSONDecodeError:
        return None
    roles = [m.get("role") for m in messages] if isinstance(messages, list) else None
    return messages if roles == ["system", "user"] else None


def _content(version: RemoteVersion | None) -> Content | None:
    messages = _messages(version)
    if version is None or messages is None:
        return None
    return messages[0]["content"], messages[1]["content"], version.type or "mustache"


def _id(version: RemoteVersion | None) -> str | None:
    return version.id if version else None


def _pushed_by_prompt_sync(version: RemoteVersion) -> bool:
    record = version.metadata.get("prompt_sync") if isinstance(version.metadata, dict) else None
    return isinstance(record, dict) and record.get("commit") == version.commit


def _other(template_type: str) -> str:
    return "jinja2" if template_type == "mustache" else "mustache"


def _label(version: RemoteVersion) -> str:
    return f"{version.version_number} ({version.commit})"


def model_for(world: World, figures: Figures) -> type[SyncModel]:
    """The machine bound to a world (hypothesis builds a fresh instance per example)."""
    return type("BoundSyncModel", (SyncModel,), {"world": world, "figures": figures})
