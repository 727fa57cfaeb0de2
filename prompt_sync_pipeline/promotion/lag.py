"""Does an environment (``production``) hold a version that scores below the newest version
that has experiments? The question behind the ``production_not_behind`` check."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..opik.project import OpikProject
from ..performance import collect_performance
from ..sync.config import SyncConfig
from .models import compare, shared_metrics


@dataclass(frozen=True)
class EnvironmentLag:
    """One composite: the environment's version against the newest version with experiments."""

    composite: str
    environment_version: str | None = None
    newest_scored: str | None = None
    # metric -> (the environment's version's score, the newest scored version's score)
    behind: dict[str, tuple[float, float]] = field(default_factory=dict)
    note: str = ""  # why it was not judged
    failed: bool = False


def environment_lag(
    config: SyncConfig, opik: OpikProject, environment: str
) -> list[EnvironmentLag]:
    """Per composite, the metrics on which the environment's version scores below the newest
    version with experiments (over their shared datasets); a note where nothing compares."""
    report = collect_performance(config, opik)
    lags = []
    for performance in report.prompts:
        name = performance.name
        if performance.kind != "composite":
            continue
        if performance.error is not None:
            lags.append(EnvironmentLag(name, note=performance.error, failed=True))
            continue
        newest = next((v for v in performance.versions if v.experiments), None)
        held = performance.held_by(environment)
        if held is None:
            scored = newest.version if newest else None
            note = f"{environment} points to no version"
            lags.append(EnvironmentLag(name, newest_scored=scored, note=note))
            continue
        if newest is None:
            lags.append(EnvironmentLag(name, held.version, note="no version has experiments"))
            continue
        behind = {}
        if newest.id != held.id:
            for metric in shared_metrics(newest, held):
                comparison = compare(newest, held, metric)
                new_score = comparison.candidate.score
                held_score = comparison.current.score if comparison.current else None
                if new_score is not None and held_score is not None and held_score < new_score:
                    behind[metric] = (held_score, new_score)
        lags.append(EnvironmentLag(name, held.version, newest.version, behind))
    return lags
