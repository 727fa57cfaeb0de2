"""Git delivery: the run starts from the team's latest charter and hands back what it pulled as a
commit (``git:`` in the configuration). Only the run's entry points (the CLI, the Dagster assets)
call it; the engine never touches git."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ..sync.config import SyncConfig
from .git import GitError
from .runs import CheckoutRefused, GitOutcome, GitRun

__all__ = ["CheckoutRefused", "GitError", "GitOutcome", "GitRun", "start_git_run"]


def start_git_run(config: SyncConfig, *, day: date | None = None) -> GitRun | None:
    """Git for a run starting now (see :meth:`GitRun.start`); ``day`` names the day's branch,
    by default today where the team's midnight is (``schedule_timezone``)."""
    day = day or datetime.now(ZoneInfo(config.schedule_timezone)).date()
    return GitRun.start(config, day=day)
