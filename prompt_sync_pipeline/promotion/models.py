"""What a promotion compares, the arithmetic of the gate (plain, testable functions), and what
a promotion or rollback reports (``ReleaseResult``).

A version may take an environment (``production``) from the version holding it only when it
scores at least as well on one metric, over experiments on the *same datasets*: a score on an
easy dataset says nothing against a score on a hard one. Each side's score is the performance
view's own (the mean of its experiments' means, ``performance.models.mean_scores``), restricted
to the datasets both versions were evaluated on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import Refused, UsageError
from ..performance.evidence import scored_datasets, shared_metrics
from ..performance.models import ExperimentRun, VersionPerformance, mean_scores
from ..performance.paired import DECIMALS

if TYPE_CHECKING:
    from .gate import GateKind, PairedDecision
    from .next_sync import NextSync

Outcome = Literal[
    "promoted",  # the gate passed and the environment moved
    "forced",  # the gate did not pass (or could not be judged) and --force moved it anyway
    "would_promote",  # dry run: the gate passed, nothing moved
    "refused",  # the gate did not pass, or nothing comparable: nothing moved
    "unchanged",  # the environment already points there
    "nothing_to_roll_back",  # no earlier version to go back to: nothing moved, nothing wrong
    "rolled_back",  # the environment moved back
    "would_roll_back",  # dry run of a rollback: nothing moved
    "restored",  # an old version was restored as the new latest one
    "would_restore",  # dry run of a restore: nothing restored
]


class ReleaseUsageError(UsageError):
    """The command named something that does not exist (composite, version, environment, metric)."""


class ReleaseRefused(Refused):
    """The move can't be made as asked; the message says why and what to do. Nothing changed."""


@dataclass(frozen=True)
class Side:
    """One version's score in a comparison, and the experiments it came from."""

    version: str
    score: float | None
    experiments: tuple[ExperimentRun, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "score": self.score,
            "experiments": [e.name for e in self.experiments],
        }


@dataclass(frozen=True)
class Comparison:
    """The candidate against the environment's current version on one metric."""

    metric: str | None
    datasets: tuple[str, ...]
    candidate: Side
    current: Side | None  # None: the environment holds no version of the prompt yet
    min_delta: float = 0.0

    @property
    def required(self) -> float | None:
        if self.current is None or self.current.score is None:
            return None
        return round(self.current.score + self.min_delta, DECIMALS)

    @property
    def comparable(self) -> bool:
        return self.current is None or (
            self.candidate.score is not None and self.current.score is not None
        )

    @property
    def passes(self) -> bool:
        if self.current is None:
            return True  # nothing to beat
        required = self.required
        score = self.candidate.score
        return required is not None and score is not None and score >= required

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "datasets": list(self.datasets),
            "min_delta": self.min_delta,
            "required": self.required,
            "candidate": self.candidate.to_json(),
            "current": self.current.to_json() if self.current else None,
            "passes": self.passes,
        }


def choose_metric(
    candidate: VersionPerformance,
    current: VersionPerformance | None,
    metric: str | None,
    *,
    known: list[str] | None = None,
    source: str = "as asked",
) -> tuple[str | None, str]:
    """The metric to compare and why: the one asked for (it must be a metric some experiment of
    the composite scored, ``known``); else the only one both versions share. Several: the user
    chooses."""
    if metric is not None:
        if known is not None and metric not in known:
            names = ", ".join(known) if known else "none: no experiment scored any metric yet"
            raise ReleaseUsageError(
                f"metric {metric!r} was not scored by any experiment of these versions; "
                f"the metrics scored: {names}"
            )
        return metric, source
    if current is None:
        return None, "no metric needed: the environment holds no version to beat"
    shared = shared_metrics(candidate, current)
    if len(shared) > 1:
        raise ReleaseUsageError(
            f"{candidate.version} and {current.version} were both scored on {', '.join(shared)}: "
            "choose one with --metric"
        )
    if shared:
        return shared[0], (
            f"the only metric both {candidate.version} and {current.version} were scored on, "
            "over a shared dataset"
        )
    return None, (
        f"no metric: {candidate.version} and {current.version} were never scored on the same "
        "metric over a shared dataset"
    )


def compare(
    candidate: VersionPerformance,
    current: VersionPerformance | None,
    metric: str | None,
    min_delta: float = 0.0,
) -> Comparison:
    """The candidate's and the current version's scores on ``metric`` over their shared datasets."""
    if current is None:
        return Comparison(metric, (), _side(candidate, metric, None), None, min_delta)
    datasets = (
        scored_datasets(candidate, metric) & scored_datasets(current, metric) if metric else set()
    )
    return Comparison(
        metric,
        tuple(sorted(datasets)),
        _side(candidate, metric, datasets),
        _side(current, metric, datasets),
        min_delta,
    )


def _side(version: VersionPerformance, metric: str | None, datasets: set[str] | None) -> Side:
    if metric is None:
        return Side(version.version, None)
    experiments = tuple(
        e
        for e in version.experiments
        if metric in e.scores and (datasets is None or e.dataset in datasets)
    )
    return Side(version.version, mean_scores(experiments).get(metric), experiments)


def describe_side(label: str, side: Side, metric: str | None) -> str:
    """``production's v2: accuracy 0.6667 (mean of 2 experiments: a, b)``."""
    if side.score is None:
        scoring = f"scoring {metric}" if metric else "scoring a metric both share"
        return f"{label} {side.version}: no experiment {scoring} on a shared dataset"
    names = ", ".join(e.name for e in side.experiments)
    count = len(side.experiments)
    return (
        f"{label} {side.version}: {metric} {side.score:.4f} "
        f"(mean of {count} experiment{'' if count == 1 else 's'}: {names})"
    )


@dataclass(frozen=True)
class ReleaseResult:
    """What ``promote`` or ``rollback`` did (or, refused, why it did nothing)."""

    action: str
    composite: str
    outcome: Outcome
    message: str
    environment: str | None = None
    version: str | None = None  # where the environment points now, or the restored version
    previous: str | None = None  # where it pointed before, or the version restored from
    comparison: Comparison | None = None  # the experiment means (the mean gate's evidence)
    notes: tuple[str, ...] = ()
    details: tuple[str, ...] = ()  # the lines under the message: the evidence, the next sync
    gate: GateKind | None = None  # which gate decided (promote only)
    paired: PairedDecision | None = None  # the paired gate's evidence and verdict
    metric_reason: str | None = None  # why this metric was compared
    next_sync: NextSync | None = None  # rollback: what the next sync will do

    @property
    def ok(self) -> bool:
        return self.outcome != "refused"

    def numbers(self) -> dict[str, float | int]:
        """The decision's numbers: both mean scores, and the paired gate's (Dagster metadata)."""
        found: dict[str, float | int] = {}
        if self.comparison is not None:
            if self.comparison.candidate.score is not None:
                found["candidate_score"] = self.comparison.candidate.score
            if self.comparison.current is not None and self.comparison.current.score is not None:
                found["current_score"] = self.comparison.current.score
        if self.paired is not None:
            found.update(self.paired.numbers())
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "composite": self.composite,
            "outcome": self.outcome,
            "ok": self.ok,
            "message": self.message,
            "environment": self.environment,
            "version": self.version,
            "previous": self.previous,
            "gate": self.gate,
            "metric_reason": self.metric_reason,
            "paired": self.paired.to_json() if self.paired else None,
            "comparison": self.comparison.to_json() if self.comparison else None,
            "next_sync": self.next_sync.to_json() if self.next_sync else None,
            "details": list(self.details),
            "notes": list(self.notes),
        }
