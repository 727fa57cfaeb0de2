"""The paired gate: does the evidence say the candidate beats the environment's version by more
than ``min_delta``? Plain values and functions; the numbers come from ``performance.paired``.

It passes when at least ``min_items`` dataset items were paired and the confidence interval's
lower bound of the mean per-item difference is above ``min_delta``. Otherwise the verdict says
why, and, when the interval only lacks evidence, how many items would tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..performance.paired import PairedComparison, items_needed, percent

GateKind = Literal["paired", "mean"]
GATES: tuple[GateKind, ...] = ("paired", "mean")  # the first is the default
Verdict = Literal[
    "nothing_to_beat",  # the environment holds no version: passes
    "passes",  # enough items, and the interval is above min-delta
    "no_pairs",  # no dataset item was scored on the metric for both versions
    "too_few_items",  # fewer than min-items pairs
    "not_enough_evidence",  # the interval holds min-delta
    "not_better",  # the whole interval is at or below min-delta
]


@dataclass(frozen=True)
class PairedDecision:
    """The paired gate's verdict, with the comparison it judged (None: nothing to beat)."""

    comparison: PairedComparison | None
    min_delta: float
    min_items: int
    items_needed: int | None = None  # with not_enough_evidence (and too_few_items), if any would do

    @property
    def verdict(self) -> Verdict:
        c = self.comparison
        if c is None:
            return "nothing_to_beat"
        if c.n == 0:
            return "no_pairs"
        if c.n < self.min_items or c.low is None or c.high is None:
            return "too_few_items"
        if c.low > self.min_delta:
            return "passes"
        if c.high > self.min_delta:
            return "not_enough_evidence"
        return "not_better"

    @property
    def passes(self) -> bool:
        return self.verdict in ("passes", "nothing_to_beat")

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "passes": self.passes,
            "min_delta": self.min_delta,
            "min_items": self.min_items,
            "items_needed": self.items_needed,
            **(self.comparison.to_json() if self.comparison else {}),
        }

    def numbers(self) -> dict[str, float | int]:
        """The decision's numbers, for Dagster's numeric metadata and run tags."""
        c = self.comparison
        if c is None:
            return {}
        found: dict[str, float | int | None] = {
            "n_paired": c.n,
            "mean_difference": c.mean_difference,
            "standard_error": c.standard_error,
            "ci_low": c.low,
            "ci_high": c.high,
            "candidate_mean": c.candidate_mean,
            "current_mean": c.current_mean,
            "min_delta": self.min_delta,
            "items_needed": self.items_needed,
        }
        return {key: value for key, value in found.items() if value is not None}


def judge(
    comparison: PairedComparison | None, *, min_delta: float, min_items: int
) -> PairedDecision:
    """The gate's decision on ``comparison``; the items needed when more items could tell."""
    decision = PairedDecision(comparison, min_delta, min_items)
    if comparison is not None and decision.verdict in ("not_enough_evidence", "too_few_items"):
        needed = items_needed(comparison, min_delta)
        if needed is not None:
            needed = max(needed, min_items)
        decision = PairedDecision(comparison, min_delta, min_items, needed)
    return decision


def interval_text(c: PairedComparison) -> str:
    """``+0.0300 (standard error 0.0250), 95% interval [-0.0206, +0.0806]``."""
    if c.mean_difference is None:
        return "no pairs"
    text = f"{c.mean_difference:+.4f}"
    if c.low is None or c.high is None or c.standard_error is None:
        return f"{text} (one pair: no interval)"
    return (
        f"{text} (standard error {c.standard_error:.4f}), "
        f"{percent(c.level)} interval [{c.low:+.4f}, {c.high:+.4f}]"
    )


def compact(decision: PairedDecision) -> str:
    """One line for a commit message, a tag or a sensor's skip reason:
    ``accuracy +0.3500, 95% CI [+0.2691, +0.4309], n=40``."""
    c = decision.comparison
    if c is None:
        return "nothing to beat"
    if c.mean_difference is None:
        return f"{c.metric}: no paired items"
    if c.low is None or c.high is None:
        return f"{c.metric} {c.mean_difference:+.4f}, n={c.n}"
    return _evidence_line(c.metric, c.mean_difference, c.level, c.low, c.high, c.n)


def _evidence_line(
    metric: str, difference: float, level: float, low: float, high: float, n: int
) -> str:
    return f"{metric} {difference:+.4f}, {percent(level)} CI [{low:+.4f}, {high:+.4f}], n={n}"


# The paired gate's evidence, recorded on the version it promoted (a version tag, at most 100
# characters): ``prompt-sync-gate:<environment>:<metric>:<difference>:<low>:<high>:<n>:<level>``.
# The nightly delivery quotes it in the commit message that brings the version into the charter.
GATE_TAG_PREFIX = "prompt-sync-gate:"


def evidence_prefix(environment: str) -> str:
    return f"{GATE_TAG_PREFIX}{environment}:"


def evidence_tag(environment: str, decision: PairedDecision) -> str | None:
    c = decision.comparison
    if c is None or c.mean_difference is None or c.low is None or c.high is None:
        return None
    if ":" in c.metric:
        return None  # the tag's separator
    numbers = ":".join(f"{value:+.4f}" for value in (c.mean_difference, c.low, c.high))
    return f"{evidence_prefix(environment)}{c.metric}:{numbers}:{c.n}:{c.level:g}"


def recorded_evidence(tags: list[str] | tuple[str, ...], environment: str) -> str | None:
    """The recorded evidence in words: ``accuracy +0.3500, 95% CI [+0.2691, +0.4309], n=40``."""
    prefix = evidence_prefix(environment)
    for tag in reversed(tags):
        if not tag.startswith(prefix):
            continue
        try:
            metric, difference, low, high, n, level = tag.removeprefix(prefix).split(":")
            return _evidence_line(
                metric, float(difference), float(level), float(low), float(high), int(n)
            )
        except ValueError:
            continue
    return None
