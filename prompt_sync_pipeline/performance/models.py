"""What the performance view reports, and the arithmetic behind it (plain, testable functions).

Opik already averages each experiment's feedback scores (mean per trace, then across the
experiment's traces). On top of that:

- a version's score for a metric is the plain mean of the scores of the experiments that used the
  version and reported that metric (each experiment counts once, whatever its size: an experiment
  is one evaluation run, and a large dataset shouldn't drown a second, different one);
- the best version for a metric is the one with the highest such score (every Opik metric this
  team uses is "higher is better"); on a tie the newest version wins, since switching buys nothing;
- the current version is the latest one, compared with the version just before it, for the
  metrics both were scored on.

Means and deltas are rounded to 9 decimals, the precision Opik stores scores with, so float noise
such as ``0.30000000000000004`` never reaches a report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean
from typing import Any, Literal

from .paired import DECIMALS, PairedComparison

Kind = Literal["composite", "individual"]
Status = Literal["ok", "no_experiments", "not_in_opik", "failed"]


@dataclass(frozen=True)
class ExperimentRun:
    """One Opik experiment that used a prompt version, with Opik's mean score per metric."""

    id: str
    name: str
    dataset: str | None
    trace_count: int | None
    created_at: datetime | None
    scores: Mapping[str, float]
    project_name: str | None = None  # the project of its dataset, to read its items

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.id,
            "dataset": self.dataset,
            "trace_count": self.trace_count,
            "created_at": _iso(self.created_at),
            "scores": dict(sorted(self.scores.items())),
        }


@dataclass(frozen=True)
class VersionPerformance:
    """One version of a prompt and the experiments that used it."""

    id: str
    version: str  # "v3"; the commit when Opik gave no number
    commit: str
    created_at: datetime | None
    created_by_tool: bool
    experiments: tuple[ExperimentRun, ...] = ()
    environments: tuple[str, ...] = ()  # the Opik environments that point to it
    tags: tuple[str, ...] = ()  # its version tags (e.g. the evidence that promoted it)

    @property
    def scores(self) -> dict[str, float]:
        return mean_scores(self.experiments)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "id": self.id,
            "commit": self.commit,
            "created_at": _iso(self.created_at),
            "created_by_tool": self.created_by_tool,
            "environments": list(self.environments),
            "experiments": [e.to_json() for e in self.experiments],
            "scores": dict(sorted(self.scores.items())),
        }


@dataclass(frozen=True)
class PromptPerformance:
    """A managed prompt's versions (newest first) with their scores, best versions and trend."""

    name: str
    kind: Kind
    versions: tuple[VersionPerformance, ...] = ()
    in_opik: bool = True
    error: str | None = None
    # Experiments linked to versions Opik no longer lists (deleted versions): counted, not shown.
    unlisted_experiments: int = 0
    best: Mapping[str, str] = field(default_factory=dict)
    current_vs_previous: Mapping[str, float] = field(default_factory=dict)
    paired: tuple[PairedRow, ...] = ()  # composites: the current version, paired item by item

    @classmethod
    def build(
        cls,
        name: str,
        kind: Kind,
        versions: Sequence[VersionPerformance],
        *,
        unlisted_experiments: int = 0,
    ) -> PromptPerformance:
        ordered = tuple(versions)
        return cls(
            name,
            kind,
            ordered,
            unlisted_experiments=unlisted_experiments,
            best=best_versions(ordered),
            current_vs_previous=current_vs_previous(ordered),
        )

    @classmethod
    def missing(cls, name: str, kind: Kind) -> PromptPerformance:
        return cls(name, kind, in_opik=False)

    @classmethod
    def failed(cls, name: str, kind: Kind, error: str) -> PromptPerformance:
        return cls(name, kind, error=error)

    @property
    def status(self) -> Status:
        if self.error is not None:
            return "failed"
        if not self.in_opik:
            return "not_in_opik"
        return "ok" if self.experiment_count else "no_experiments"

    @property
    def experiment_count(self) -> int:
        return len({e.id for v in self.versions for e in v.experiments})

    @property
    def metrics(self) -> list[str]:
        return sorted({m for v in self.versions for e in v.experiments for m in e.scores})

    @property
    def current(self) -> VersionPerformance | None:
        return self.versions[0] if self.versions else None

    @property
    def previous(self) -> VersionPerformance | None:
        return self.versions[1] if len(self.versions) > 1 else None

    def held_by(self, environment: str) -> VersionPerformance | None:
        """The version ``environment`` points to, if any."""
        return next((v for v in self.versions if environment in v.environments), None)

    def paired_numbers(self) -> dict[str, float]:
        """``delta_vs_<against>_<metric>`` and its ``_low`` and ``_high`` bounds, per paired
        comparison with an interval (numbers a dashboard plots over time)."""
        numbers: dict[str, float] = {}
        for row in self.paired:
            for metric, c in row.comparisons.items():
                if c.mean_difference is None or c.low is None or c.high is None:
                    continue
                name = f"delta_vs_{row.against}_{metric}"
                numbers |= {name: c.mean_difference, f"{name}_low": c.low, f"{name}_high": c.high}
        return numbers

    def best_score(self, metric: str) -> float | None:
        label = self.best.get(metric)
        version = next((v for v in self.versions if v.version == label), None)
        return version.scores.get(metric) if version else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "error": self.error,
            "current_version": self.current.version if self.current else None,
            "previous_version": self.previous.version if self.previous else None,
            "versions": [v.to_json() for v in self.versions],
            "best": dict(sorted(self.best.items())),
            "current_vs_previous": dict(sorted(self.current_vs_previous.items())),
            "paired": [row.to_json() for row in self.paired],
            "unlisted_experiments": self.unlisted_experiments,
        }


@dataclass(frozen=True)
class PairedRow:
    """The current version against another one (the previous, or an environment's), item by
    item, per metric both were scored on over a shared dataset."""

    against: str  # "previous", or the environment's name
    candidate: str  # the current version's label
    other: str | None  # the other version's label; None: no such version
    comparisons: Mapping[str, PairedComparison] = field(default_factory=dict)

    @property
    def title(self) -> str:
        other = "previous" if self.against == "previous" else f"{self.against}'s"
        return f"current {self.candidate} vs {other} {self.other or '(none)'}"

    def to_json(self) -> dict[str, Any]:
        return {
            "against": self.against,
            "candidate": self.candidate,
            "other": self.other,
            "comparisons": {m: c.to_json() for m, c in sorted(self.comparisons.items())},
        }


@dataclass(frozen=True)
class PerformanceReport:
    """The performance view of every prompt asked for, in configuration order."""

    project: str
    prompts: tuple[PromptPerformance, ...]
    metric: str | None = None
    environment: str | None = None  # the environment the composites were paired against
    level: float | None = None  # the paired intervals' level; None: not paired

    @property
    def failed(self) -> list[PromptPerformance]:
        return [p for p in self.prompts if p.error is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "metric": self.metric,
            "environment": self.environment,
            "level": self.level,
            "prompts": [p.to_json() for p in self.prompts],
        }


# The arithmetic ----------------------------------------------------------------------------------


def mean_scores(experiments: Iterable[ExperimentRun]) -> dict[str, float]:
    """Per metric, the mean of the experiments' scores (only experiments that report the metric)."""
    values: dict[str, list[float]] = {}
    for experiment in experiments:
        for metric, value in experiment.scores.items():
            values.setdefault(metric, []).append(value)
    return {metric: round(fmean(found), DECIMALS) for metric, found in values.items()}


def best_versions(versions: Sequence[VersionPerformance]) -> dict[str, str]:
    """Per metric, the label of the version with the highest score; versions come newest first."""
    best: dict[str, tuple[float, str]] = {}
    for version in versions:
        for metric, score in version.scores.items():
            # Strictly greater: an older version must beat the newer one to take its place.
            if metric not in best or score > best[metric][0]:
                best[metric] = (score, version.version)
    return {metric: label for metric, (_, label) in best.items()}


def current_vs_previous(versions: Sequence[VersionPerformance]) -> dict[str, float]:
    """Per metric scored on both, the latest version's score minus the one before it."""
    if len(versions) < 2:
        return {}
    current, previous = versions[0].scores, versions[1].scores
    return {
        metric: round(current[metric] - previous[metric], DECIMALS)
        for metric in current.keys() & previous.keys()
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
