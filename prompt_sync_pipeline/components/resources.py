"""Resources: where Opik is, the options of a run, and one run's sync session per instance.

The assets stay thin: each asks ``PromptSyncResource.session(context, instance)`` for the run's
``SyncSession`` and calls the engine through it. The session is what makes a run coherent:
one Opik connection, one engine (and its cache of each composite's base), one read of the
composites shared by every step of the run, and the run's cumulative report. It lives only as
long as the run (keyed by run id and instance, closed at teardown), so no step ever sees an
earlier run's state, nor another instance's.

One ``prompt_sync`` resource serves every instance of a code location (``shared_resources``):
each instance knows its own configuration file; the resource holds only what is Dagster's (the
Opik connection from the environment, and the launchpad's options).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from prompt_sync_pipeline.delivery import GitOutcome, GitRun
from prompt_sync_pipeline.opik import OpikSettings, OpikUnavailable
from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.opik.settings import OPIK_API_KEY_VAR, OPIK_URL_VAR, OPIK_WORKSPACE_VAR
from prompt_sync_pipeline.sync import resolutions
from prompt_sync_pipeline.sync.charter import Charter, charter_lock
from prompt_sync_pipeline.sync.config import SyncConfig
from prompt_sync_pipeline.sync.engine import SyncEngine
from prompt_sync_pipeline.sync.messages import Fixes
from prompt_sync_pipeline.sync.plan import CompositeRead, PullPlan
from prompt_sync_pipeline.sync.report import SyncReport

from . import run_tags
from .failures import cli_messages
from .instance import Instance

RESOURCE_KEY = "prompt_sync"


def env_var_if_set(name: str) -> dg.EnvVar | None:
    """``EnvVar(name)`` when the variable is set where the code location loads, else None.

    Dagster resolves an ``EnvVar`` when a run starts and refuses to start when it is unset. Unset
    is legitimate here: the Opik SDK then falls back to ``~/.opik.config`` (and a self-hosted Opik
    needs no key), and a missing ``PROMPT_SYNC_CONFIG`` must fail the run with our own message.
    Either way the UI shows the variable's name, never its value.
    """
    return dg.EnvVar(name) if os.environ.get(name) else None


class OpikResource(dg.ConfigurableResource):
    """The Opik connection. An empty field is taken from the Opik SDK's own settings
    (OPIK_URL_OVERRIDE, OPIK_WORKSPACE, OPIK_API_KEY, then ~/.opik.config)."""

    url: str | None = Field(
        default=None,
        description="Opik REST API base: https://www.comet.com/opik/api for Opik Cloud, "
        "http(s)://HOST[:PORT]/api for a self-hosted Opik.",
    )
    workspace: str | None = Field(default=None, description="Opik workspace.")
    api_key: str | None = Field(
        default=None,
        description="Opik API key (Opik Cloud). Bind it to an EnvVar: the UI then shows the "
        "variable's name, never the key.",
    )

    def connect(self, settings: OpikSettings) -> OpikProject:
        # The SDK is imported here, when a run needs it, not when the code location loads.
        return OpikProject.connect(
            settings, url=self.url, workspace=self.workspace, api_key=self.api_key
        )


class SyncSession:
    """One run of one instance's sync, shared by the run's steps (the job runs them in one
    process).

    ``report`` accumulates what the run's steps did: the run's counters and its outcome come
    from it. ``plan`` is the pull this run planned, so the pushes never push a part the pull
    found in conflict. ``keep`` holds the resolve job's choices (none in other jobs).
    """

    def __init__(
        self,
        instance: Instance,
        config: SyncConfig,
        opik: OpikResource,
        *,
        dry_run: bool,
        fixes: Fixes,
        day: date,
        keep: resolutions.Resolutions = resolutions.NONE,
    ) -> None:
        self.instance = instance
        self.day = day  # the day the run syncs for: its git branch, its success key
        self.config = config
        self.dry_run = dry_run
        self.fixes = fixes  # for the fix commands in conflict messages
        self.keep = keep
        self.report = SyncReport(dry_run=dry_run)
        self.plan: PullPlan | None = None
        self._opik = opik
        self._engine: SyncEngine | None = None
        self._reads: dict[str, CompositeRead] | None = None
        self._pulled_charter: Charter | None = None
        # Git delivery (``git:`` in the configuration), started by the run's first step.
        self.git: GitRun | None = None

    @property
    def engine(self) -> SyncEngine:
        if self._engine is None:
            opik = self._opik.connect(self.config.opik)
            try:
                opik.check_access()  # fail the step once, clearly, before any per-prompt work
            except OpikUnavailable:
                opik.close()
                raise
            self._engine = SyncEngine(self.config, opik, dry_run=self.dry_run, fixes=self.fixes)
        return self._engine

    def new_report(self) -> SyncReport:
        return SyncReport(dry_run=self.dry_run)

    def record(self, step: SyncReport) -> None:
        """Add a step's actions to the run's report."""
        self.report.add(*step.actions)
        self.report.warnings.extend(step.warnings)

    @contextmanager
    def charter_locked(self) -> Iterator[None]:
        """The charter's one-writer lock, also honoured by the CLI, held for one step (none in a
        dry run, which writes nothing)."""
        config = self.config
        with charter_lock(config.charter, config.lock_timeout_seconds, writes=not self.dry_run):
            yield

    def load_charter(self) -> Charter:
        """The charter as it is now; in a dry run, as this run's pull would have left it."""
        if self.dry_run and self._pulled_charter is not None:
            return self._pulled_charter
        return self.engine.load_charter()

    def reads(self) -> dict[str, CompositeRead]:
        """Every composite as Opik holds it: read by the run's first step that needs it, then
        shared, so a full run reads each composite once."""
        if self._reads is None:
            if self.keep:
                # As the CLI's sync: write races the user named are settled before the reads.
                settled = self.new_report()
                self.engine.settle_races(self.keep, settled)
                self.record(settled)
            self._reads = self.engine.read_composites()
        return self._reads

    def plan_pull(self, charter: Charter) -> PullPlan:
        self.plan = self.engine.plan_pull(charter, self.reads(), keep=self.keep)
        return self.plan

    def apply_pull(self, charter: Charter, plan: PullPlan, report: SyncReport) -> Charter:
        self._pulled_charter = self.engine.apply_pull(charter, plan, report)
        return self._pulled_charter

    def preview_pull(self, charter: Charter, plan: PullPlan) -> SyncReport:
        """What applying ``plan`` would report, without writing anything."""
        report = SyncReport(dry_run=self.dry_run)
        self.engine.apply_pull(charter, plan, report, write=False)
        return report

    def deliver(self) -> GitOutcome | None:
        """Commit (and push) what the run changed in the charter and its state file."""
        return self.git.finish(self.report) if self.git is not None else None

    def git_problems(self) -> list[str]:
        return [f"git: {problem}" for problem in self.git.outcome.problems] if self.git else []

    def close(self) -> None:
        if self._engine is not None:
            self._engine.opik.close()


class PromptSyncResource(dg.ConfigurableResource):
    """The options of a run, for every prompt-sync instance of the code location (each instance
    knows its own prompt_sync.yaml). Set dry_run: true in the launchpad to see what a run would
    do (every action, with its diff) without writing to Opik or to the charter; the resolve job
    sets keep_opik / keep_charter."""

    opik: OpikResource
    dry_run: bool = Field(
        default=False, description="Plan and report everything; write nothing anywhere."
    )
    use_git: bool = Field(
        default=True,
        description="Follow the configuration's git: section (update the checkout before the "
        "run, commit the pull after it); false: leave git alone for this run (the CLI's --no-git).",
    )
    keep_opik: list[str] = Field(
        default_factory=list,
        description="Resolve conflicts with Opik's text: PROMPT, COMPOSITE or PROMPT=COMPOSITE, "
        "as the CLI's --keep-opik (the instance's resolve job sets it).",
    )
    keep_charter: list[str] = Field(
        default_factory=list,
        description="Resolve conflicts with the charter's text: PROMPT or COMPOSITE, as the "
        "CLI's --keep-charter (the instance's resolve job sets it).",
    )

    _sessions: dict[tuple[str, str], SyncSession] = PrivateAttr(default_factory=dict)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        # Only this run's sessions: runs executed side by side in one process keep theirs.
        run_id = context.run.run_id if context.run else None
        for key in [k for k in self._sessions if k[0] == run_id]:
            self._sessions.pop(key).close()

    def load_config(self, instance: Instance) -> SyncConfig:
        """The instance's configuration as it is now; a broken one fails the step with the
        CLI's message (the code location checked it when it loaded, but files change)."""
        with cli_messages():
            return instance.load_config()

    def fixes(self, instance: Instance) -> Fixes:
        """Fixes name the instance's jobs (launched from the UI with run config to paste), and
        the CLI command with its configuration where only the CLI can help."""
        return Fixes.for_dagster(
            instance.config_path,
            resolve_job=instance.resolve_job,
            sync_job=instance.sync_job,
            promote_job=instance.promote_job,
            rollback_job=instance.rollback_job,
        )

    def session(self, context: dg.AssetExecutionContext, instance: Instance) -> SyncSession:
        """This run's session of ``instance``, created by the first step that asks for it."""
        key = (context.run.run_id, instance.name)
        if key not in self._sessions:
            launched_for = context.run.tags.get(run_tags.CONFIG_TAG)
            if launched_for and launched_for != str(instance.config_path):
                raise dg.Failure(
                    description=f"This run was launched for {launched_for}, but the code "
                    f"location's instance {instance.name!r} syncs {instance.config_path}: "
                    "the process that runs it loaded another configuration (check "
                    "PROMPT_SYNC_CONFIG where the daemon and the code server start)."
                )
            config = self.load_config(instance)
            keep = resolutions.parse(config, charter=self.keep_charter, opik=self.keep_opik)
            record = context.instance.get_run_record_by_id(context.run.run_id)
            day = run_tags.run_day(
                context.run.tags, record.start_time if record else None, config.schedule_timezone
            )
            session = SyncSession(
                instance,
                config,
                self.opik,
                dry_run=self.dry_run,
                fixes=self.fixes(instance),
                day=day,
                keep=keep,
            )
            if self.use_git and not self.dry_run and config.git is not None:
                # Before the first step reads the charter: the team's latest charter.
                session.git = GitRun.start(config, day=day)
            self._sessions[key] = session
        return self._sessions[key]


@functools.cache
def shared_resources() -> dict[str, Any]:
    """The resources of every instance in this process: the same objects each time, so the
    instances of a project merge into one code location. Each ``OPIK_*`` variable set when the
    code location loads is bound as an ``EnvVar`` (the UI shows its name, never its value); one
    left unset falls back to the Opik SDK's own settings when a run connects."""
    opik = OpikResource(
        url=env_var_if_set(OPIK_URL_VAR),
        workspace=env_var_if_set(OPIK_WORKSPACE_VAR),
        api_key=env_var_if_set(OPIK_API_KEY_VAR),
    )
    return {RESOURCE_KEY: PromptSyncResource(opik=opik)}
