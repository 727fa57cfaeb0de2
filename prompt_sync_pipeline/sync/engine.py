"""The three-way sync of the charter and Opik ("How the sync decides" in the README).

One run is three steps: pull (``pull``: read every composite Opik changed, split it, adopt
what Opik changed), push individuals and push composites (``push``). Each composite's *base* is
the last version this copy of the charter agreed with Opik (``bases``, kept in the state file
beside the charter); ``decide`` tells "Opik was optimized" apart from "the charter was edited".
``SyncEngine`` is the one object the CLI and the Dagster assets hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext

from ..opik.project import OpikProject
from . import pull as pull_step
from . import push as push_step
from . import races
from .bases import Bases
from .bulk import frozen_heap
from .charter import Charter, charter_lock, load_charter
from .check import composite_problems
from .config import ConfigError, SyncConfig
from .context import SyncRun
from .messages import Fixes
from .plan import CompositeRead, PullPlan
from .report import SyncReport
from .resolutions import NONE, Resolutions
from .run_state import RunState
from .workers import Progress, Workers


def run_sync(
    config: SyncConfig,
    *,
    pull: bool = True,
    push: bool = True,
    dry_run: bool = False,
    keep: Resolutions = NONE,
    progress: Progress | None = None,
    fixes: Fixes | None = None,
    rebuild_state: bool = False,
    opik: OpikProject | None = None,
) -> SyncReport:
    """One sync run, on ``opik`` or on its own Opik connection (from the SDK's variables).

    ``keep`` holds the user's resolutions; ``fixes`` is how the user runs the tool (e.g. with
    ``--config PATH``), for the fix commands in messages. Raises ``OpikUnavailable`` before any
    work when Opik can't be used at all, and a ``UsageError`` before any request on bad input.
    """
    connection: AbstractContextManager[OpikProject] = (
        nullcontext(opik) if opik is not None else OpikProject.connect(config.opik)
    )
    with connection as opik:
        engine = SyncEngine(
            config,
            opik,
            dry_run=dry_run,
            progress=progress,
            fixes=fixes or Fixes(),
            rebuild_state=rebuild_state,
        )
        # A bad charter, composite table or state file is reported before any request.
        engine.load_charter()
        engine.state.load()
        with frozen_heap():
            opik.check_access()
            return engine.sync(pull=pull, push=push, keep=keep)


class SyncEngine:
    """Runs the sync steps for one configuration against one Opik project."""

    def __init__(
        self,
        config: SyncConfig,
        opik: OpikProject,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        fixes: Fixes | None = None,
        rebuild_state: bool = False,
    ) -> None:
        fixes = fixes or Fixes()
        state = RunState(config, opik, fixes, rebuild=rebuild_state)
        self.run = SyncRun(
            config=config,
            opik=opik,
            state=state,
            bases=Bases(config, opik.prompts, state, dry_run=dry_run),
            workers=Workers(config.opik.max_concurrency, progress),
            fixes=fixes,
            dry_run=dry_run,
        )
        self.config, self.opik, self.state, self.dry_run = config, opik, state, dry_run

    def sync(self, *, pull: bool = True, push: bool = True, keep: Resolutions = NONE) -> SyncReport:
        """A full run under the charter lock: pull, then push individuals and composites."""
        report = SyncReport(dry_run=self.dry_run)
        config = self.config
        with charter_lock(config.charter, config.lock_timeout_seconds, writes=not self.dry_run):
            charter = self.load_charter()
            self.settle_races(keep, report)
            plan = None
            if pull:
                plan = self.plan_pull(charter, self.read_composites(charter=charter), keep=keep)
                charter = self.apply_pull(charter, plan, report)
            if push:
                self.push_individuals(charter, report, plan)
                self.push_composites(charter, report, plan)
        return report

    def settle_races(self, keep: Resolutions, report: SyncReport) -> None:
        """Settle the write races ``keep`` names (before the reads, so the pull sees the result).
        Loads the state first: an unusable state file stops the run before any request."""
        self.state.load()
        races.settle(self.run, keep, report)

    def load_charter(self) -> Charter:
        """The charter, checked against the composite table (unknown names fail before any write)."""
        charter = load_charter(self.config.charter)
        problems = composite_problems(self.config.composites, charter)
        if problems:
            raise ConfigError("; ".join(problems))
        return charter

    def read_composites(self, *, charter: Charter | None = None) -> dict[str, CompositeRead]:
        return pull_step.read_composites(self.run, charter or self.load_charter())

    def plan_pull(
        self,
        charter: Charter,
        reads: Mapping[str, CompositeRead],
        *,
        keep: Resolutions = NONE,
    ) -> PullPlan:
        return pull_step.plan_pull(self.run, charter, reads, keep)

    def apply_pull(
        self, charter: Charter, plan: PullPlan, report: SyncReport, *, write: bool = True
    ) -> Charter:
        return pull_step.apply_pull(self.run, charter, plan, report, write=write)

    def push_individuals(
        self, charter: Charter, report: SyncReport, plan: PullPlan | None = None
    ) -> None:
        push_step.push_individuals(self.run, charter, report, plan)

    def push_composites(
        self,
        charter: Charter,
        report: SyncReport,
        plan: PullPlan | None = None,
    ) -> dict[str, CompositeRead]:
        return push_step.push_composites(self.run, charter, report, plan)
