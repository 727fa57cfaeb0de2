"""Resources: where Opik is, which sync configuration to run, and one run's sync session.

The assets stay thin: each asks ``PromptSyncResource.session(context)`` for the run's
``SyncSession`` and calls the engine through it. The session is what makes a run coherent:
one Opik connection, one engine (and its cache of each composite's base), one read of the
composites shared by every step of the run, and the run's cumulative report. It lives only as
long as the run (keyed by run id, closed at teardown), so no step ever sees an earlier run's state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field, PrivateAttr

from prompt_sync_pipeline.delivery import CheckoutRefused, GitOutcome, GitRun
from prompt_sync_pipeline.opik import OpikSettings, OpikUnavailable
from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.sync.charter import Charter, charter_lock
from prompt_sync_pipeline.sync.config import CONFIG_ENV_VAR, ConfigError, SyncConfig, load_config
from prompt_sync_pipeline.sync.engine import SyncEngine
from prompt_sync_pipeline.sync.messages import Fixes
from prompt_sync_pipeline.sync.plan import CompositeRead, PullPlan
from prompt_sync_pipeline.sync.report import SyncReport

from . import run_tags


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
    """One run of the sync, shared by the run's steps (the job runs them in one process).

    ``report`` accumulates what the run's steps did: the run's counters and its outcome come
    from it. ``plan`` is the pull this run planned, so the pushes never push a part the pull
    found in conflict.
    """

    def __init__(
        self,
        config: SyncConfig,
        opik: OpikResource,
        *,
        dry_run: bool,
        fixes: Fixes,
    ) -> None:
        self.config = config
        self.dry_run = dry_run
        self.fixes = fixes  # for the fix commands in conflict messages
        self.report = SyncReport(dry_run=dry_run)
        self.plan: PullPlan | None = None
        self._opik = opik
        self._engine: SyncEngine | None = None
        self._reads: dict[str, CompositeRead] | None = None
        self._pulled_charter: Charter | None = None
        # Git delivery (``git:`` in the configuration), started by the run's first step.
        self.git: GitRun | None = None
        self.delivered: GitOutcome | None = None

    @property
    def engine(self) -> SyncEngine:
        if self._engine is None:
            opik = self._opik.connect(self.config.opik)
            try:
                opik.check_access()  # fail the step once, clearly, before any per-prompt work
            except OpikUnavailable as exc:
                opik.close()
                raise dg.Failure(description=str(exc)) from None
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
        """The charter's one-writer lock, also honoured by the CLI, held for one step."""
        with charter_lock(self.config.charter, self.config.lock_timeout_seconds):
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
            self._reads = self.engine.read_composites()
        return self._reads

    def plan_pull(self, charter: Charter) -> PullPlan:
        self.plan = self.engine.plan_pull(charter, self.reads())
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
        if self.git is not None:
            self.delivered = self.git.finish(self.report)
        return self.delivered

    def git_problems(self) -> list[str]:
        return [f"git: {problem}" for problem in self.git.outcome.problems] if self.git else []

    def close(self) -> None:
        if self._engine is not None:
            self._engine.opik.close()


class PromptSyncResource(dg.ConfigurableResource):
    """The team's sync configuration (prompt_sync.yaml: charter path, Opik project, composite
    table) and the options of a run. Set dry_run: true in the launchpad to see what a run would
    do (every action, with its diff) without writing to Opik or to the charter."""

    opik: OpikResource
    config_path: str | None = Field(
        default=None,
        description=f"Path of prompt_sync.yaml; empty: the {CONFIG_ENV_VAR} variable, as the CLI.",
    )
    dry_run: bool = Field(
        default=False, description="Plan and report everything; write nothing anywhere."
    )
    use_git: bool = Field(
        default=True,
        description="Follow the configuration's git: section (update the checkout before the "
        "run, commit the pull after it); false: leave git alone for this run (the CLI's --no-git).",
    )

    _config: SyncConfig | None = PrivateAttr(default=None)
    _sessions: dict[str, SyncSession] = PrivateAttr(default_factory=dict)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Resources are set up before the run's first step: a missing or broken configuration
        # fails the run there, with the variable's name, before anything is read or written.
        self._config = self.load_config()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    def load_config(self) -> SyncConfig:
        path = self.config_path or os.environ.get(CONFIG_ENV_VAR)
        if not path:
            raise dg.Failure(
                f"No prompt-sync configuration: set {CONFIG_ENV_VAR} to the path of "
                "prompt_sync.yaml where the code location and its runs start (or set config_path "
                "on the prompt_sync resource in the launchpad)."
            )
        try:
            return load_config(path)
        except ConfigError as exc:
            raise dg.Failure(f"prompt-sync configuration ({CONFIG_ENV_VAR}): {exc}") from None

    def fixes(self) -> Fixes:
        """The fix commands a message suggests name the configuration this run used."""
        return Fixes.for_config(self.config_path or os.environ.get(CONFIG_ENV_VAR))

    def session(self, context: dg.AssetExecutionContext) -> SyncSession:
        """This run's session, created by the first step that asks for it."""
        run_id = context.run.run_id
        if run_id not in self._sessions:
            config = self._config or self.load_config()
            session = SyncSession(config, self.opik, dry_run=self.dry_run, fixes=self.fixes())
            if self.use_git and not self.dry_run:
                # Before the first step reads the charter: the team's latest charter.
                session.git = self._start_git(context, config)
            self._sessions[run_id] = session
        return self._sessions[run_id]

    def _start_git(self, context: dg.AssetExecutionContext, config: SyncConfig) -> GitRun | None:
        if config.git is None:
            return None
        record = context.instance.get_run_record_by_id(context.run.run_id)
        day = run_tags.run_day(
            context.run.tags, record.start_time if record else None, config.schedule_timezone
        )
        try:
            return GitRun.start(config, day=day)
        except CheckoutRefused as exc:
            raise dg.Failure(str(exc)) from None
