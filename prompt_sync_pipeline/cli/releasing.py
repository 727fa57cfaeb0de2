"""``promote``, ``rollback``, ``performance`` and ``run-now``: the commands beside the sync."""

from __future__ import annotations

from ..opik.project import OpikProject
from ..promotion.cli import release
from ..promotion.requests import Promotion, Rollback
from ..sync.config import load_config
from .session import Session


def move(session: Session, request: Promotion | Rollback) -> int:
    """``promote`` or ``rollback`` on the session's configuration, printed as the session asks."""
    config = load_config(session.config_path)
    with OpikProject.connect(config.opik) as opik:
        session.journal.connected(opik)
        return release(config, opik, request, as_json=session.as_json, fixes=session.fixes)


def performance(
    session: Session,
    *,
    prompt: str | None,
    metric: str | None,
    environment: str | None,
    level: float | None,
) -> int:
    from ..performance.cli import show_performance

    config = load_config(session.config_path)
    return show_performance(
        config,
        prompt=prompt,
        metric=metric,
        as_json=session.as_json,
        environment=environment,
        level=level,
    )


def run_now(session: Session) -> int:
    from ..run_now import launch_prompt_sync_job

    return launch_prompt_sync_job(config_path=session.config_path, as_json=session.as_json)
