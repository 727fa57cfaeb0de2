"""Two prompt versions compared item by item, with error bars (plain, testable functions).

The statistics follow Miller (2024), "Adding Error Bars to Evals" (arXiv:2411.00640):

- **pair by dataset item**: both versions answered the same questions, so the question's own
  difficulty, which dominates the variance of each mean, cancels out of the differences;
- **cluster by item**: an item run several times within a version (repeated trials, or several
  experiments on the same dataset) is averaged first, so it counts once;
- **report the mean difference with its standard error and a confidence interval**, from the t
  distribution with n - 1 degrees of freedom (exact for normal differences, conservative for small
  n where the normal approximation is too narrow);
- **size the dataset with a power calculation**: how many items a test at the chosen level needs
  to tell the observed difference from a margin, 80% of the time.

A pair's key is ``(dataset, dataset item id)``: experiments on different datasets never pair.
The t and non-central t distributions come from scipy, imported only when an interval or an item
count is computed (importing it costs a quarter of a second; most commands never need it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import fmean, stdev
from typing import Any

ItemKey = tuple[str, str]  # (dataset, dataset item id)
DEFAULT_POWER = 0.8
MOVERS = 5  # the biggest gains and losses reported
_MAX_ITEMS_NEEDED = 10_000_000  # beyond this, "needed" is only "far more than any dataset"
DECIMALS = 9  # Opik's precision: float noise never reaches a report


@dataclass(frozen=True)
class Mover:
    """One dataset item's scores under both versions (each the mean of its runs)."""

    dataset: str
    item_id: str
    candidate: float
    current: float

    @property
    def difference(self) -> float:
        return round(self.candidate - self.current, DECIMALS)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "dataset_item_id": self.item_id,
            "candidate": self.candidate,
            "current": self.current,
            "difference": self.difference,
        }


@dataclass(frozen=True)
class PairedComparison:
    """The candidate minus the current version, item by item, on one metric."""

    metric: str
    level: float
    n: int  # paired items
    candidate_mean: float | None  # over the paired items only
    current_mean: float | None
    mean_difference: float | None
    standard_deviation: float | None  # of the per-item differences (n - 1 in the denominator)
    standard_error: float | None
    low: float | None  # the confidence interval at ``level``; None below two pairs
    high: float | None
    gains: tuple[Mover, ...] = ()  # biggest improvements first
    losses: tuple[Mover, ...] = ()  # biggest drops first
    candidate_only: int = 0  # items scored for the candidate only (no pair)
    current_only: int = 0
    datasets: tuple[str, ...] = ()  # the datasets the pairs came from

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "level": self.level,
            "n_paired": self.n,
            "candidate_mean": self.candidate_mean,
            "current_mean": self.current_mean,
            "mean_difference": self.mean_difference,
            "standard_deviation": self.standard_deviation,
            "standard_error": self.standard_error,
            "interval": [self.low, self.high] if self.has_interval else None,
            "gains": [m.to_json() for m in self.gains],
            "losses": [m.to_json() for m in self.losses],
            "unpaired": {"candidate": self.candidate_only, "current": self.current_only},
            "datasets": list(self.datasets),
        }


def item_means(runs: Iterable[tuple[ItemKey, float]]) -> dict[ItemKey, float]:
    """Per dataset item, the mean of its runs (the cluster's mean: one value per item)."""
    values: dict[ItemKey, list[float]] = {}
    for key, value in runs:
        values.setdefault(key, []).append(value)
    return {key: fmean(found) for key, found in values.items()}


def paired_comparison(
    candidate: Mapping[ItemKey, float],
    current: Mapping[ItemKey, float],
    *,
    metric: str,
    level: float,
    movers: int = MOVERS,
) -> PairedComparison:
    """Pair the per-item means by dataset item and compare them (``candidate - current``)."""
    check_level(level)
    keys = sorted(candidate.keys() & current.keys())
    n = len(keys)
    candidate_only, current_only = len(candidate) - n, len(current) - n
    if n == 0:
        return PairedComparison(
            metric, level, 0, None, None, None, None, None, None, None,
            candidate_only=candidate_only, current_only=current_only,
        )  # fmt: skip
    pairs = [
        Mover(dataset, item, candidate[(dataset, item)], current[(dataset, item)])
        for dataset, item in keys
    ]
    differences = [p.candidate - p.current for p in pairs]
    mean_difference = fmean(differences)
    sd = se = low = high = None
    if n >= 2:
        sd = stdev(differences, mean_difference)
        se = sd / math.sqrt(n)
        margin = t_quantile((1 + level) / 2, n - 1) * se
        low, high = mean_difference - margin, mean_difference + margin
    ranked = sorted(pairs, key=lambda p: (p.candidate - p.current, p.dataset, p.item_id))
    return PairedComparison(
        metric,
        level,
        n,
        _round(fmean(p.candidate for p in pairs)),
        _round(fmean(p.current for p in pairs)),
        _round(mean_difference),
        _round(sd),
        _round(se),
        _round(low),
        _round(high),
        gains=tuple(p for p in reversed(ranked[-movers:]) if p.difference > 0),
        losses=tuple(p for p in ranked[:movers] if p.difference < 0),
        candidate_only=candidate_only,
        current_only=current_only,
        datasets=tuple(sorted({p.dataset for p in pairs})),
    )


def items_needed(
    comparison: PairedComparison, min_delta: float, *, power: float = DEFAULT_POWER
) -> int | None:
    """How many paired items a test at the comparison's level would need to tell its observed
    mean difference apart from ``min_delta`` (the interval's lower bound above it) with
    ``power``, if the difference and the spread of the per-item differences stay as observed.

    The exact power of the one-sided t test at ``(1 + level) / 2`` (the interval's lower bound),
    from the non-central t distribution. None when no number of items would do: the observed
    difference is not above ``min_delta``, or there is no spread to go by (fewer than 2 pairs).
    """
    d, sd = comparison.mean_difference, comparison.standard_deviation
    if d is None or sd is None or d <= min_delta:
        return None
    if sd == 0:
        return 2  # every item moved by the same amount: two already tell
    from scipy.special import nctdtr, stdtrit

    confidence = (1 + comparison.level) / 2
    effect = (d - min_delta) / sd

    def enough(n: int) -> bool:
        critical = stdtrit(n - 1, confidence)
        return 1 - float(nctdtr(n - 1, effect * math.sqrt(n), critical)) >= power

    high = 2
    while not enough(high):
        if high >= _MAX_ITEMS_NEEDED:
            return _MAX_ITEMS_NEEDED
        high *= 2
    low = max(2, high // 2)
    while low < high:  # the smallest n that is enough (power grows with n)
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return high


def t_quantile(probability: float, degrees_of_freedom: int) -> float:
    """The t distribution's quantile (scipy's ``stdtrit``)."""
    from scipy.special import stdtrit

    return float(stdtrit(degrees_of_freedom, probability))


def check_level(level: float) -> None:
    if not 0.5 <= level < 1:
        raise ValueError(
            f"confidence level {level!r}: give a value from 0.5 up to (not) 1, e.g. 0.95"
        )


def percent(level: float) -> str:
    """``0.95`` -> ``95%``; ``0.975`` -> ``97.5%``."""
    return f"{level * 100:g}%"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DECIMALS)
