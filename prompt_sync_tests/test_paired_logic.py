"""The paired comparison's and the gate's arithmetic, on plain values, checked against a reference
computation: scipy.stats' paired t test and its confidence interval (the same library's t
distribution the product reads through scipy.special), and the textbook formulas by hand."""

from __future__ import annotations

import math
import random
from statistics import fmean, stdev

import pytest
from scipy import stats

from prompt_sync_pipeline.performance.paired import (
    item_means,
    items_needed,
    paired_comparison,
    t_quantile,
)
from prompt_sync_pipeline.promotion.gate import compact, evidence_tag, judge, recorded_evidence


def scores(values: list[float], dataset: str = "d") -> dict[tuple[str, str], float]:
    return {(dataset, f"item-{i:03d}"): value for i, value in enumerate(values)}


def noisy_pair(
    n: int, shift: float, noise: float, seed: int = 7
) -> tuple[list[float], list[float]]:
    rng = random.Random(seed)
    current = [rng.random() for _ in range(n)]
    candidate = [c + shift + rng.gauss(0, noise) for c in current]
    return candidate, current


@pytest.mark.parametrize(("n", "level"), [(2, 0.95), (5, 0.9), (12, 0.95), (40, 0.99), (200, 0.8)])
def test_the_interval_is_scipys_paired_t_interval(n, level):
    candidate, current = noisy_pair(n, 0.05, 0.2)

    c = paired_comparison(scores(candidate), scores(current), metric="acc", level=level)

    reference = stats.ttest_rel(candidate, current).confidence_interval(confidence_level=level)
    assert (c.low, c.high) == (pytest.approx(reference.low), pytest.approx(reference.high))
    differences = [a - b for a, b in zip(candidate, current, strict=True)]
    assert c.n == n
    assert c.mean_difference == pytest.approx(fmean(differences))
    assert c.standard_error == pytest.approx(stdev(differences) / math.sqrt(n))
    assert c.standard_error == pytest.approx(stats.sem(differences))
    assert c.candidate_mean == pytest.approx(fmean(candidate))
    assert c.current_mean == pytest.approx(fmean(current))
    # The t interval, by hand: mean +- t(1 - alpha/2, n - 1) * se.
    t = stats.t.ppf((1 + level) / 2, n - 1)
    assert c.high - c.low == pytest.approx(2 * t * stdev(differences) / math.sqrt(n))


def test_small_samples_use_the_t_distribution_not_the_normal():
    # With 3 pairs the 95% t quantile is 4.30, where the normal's would be 1.96.
    assert t_quantile(0.975, 2) == pytest.approx(4.302652729911275)
    c = paired_comparison(
        scores([1.0, 0.5, 1.0]), scores([0.5, 0.5, 0.5]), metric="acc", level=0.95
    )
    assert c.high - c.mean_difference == pytest.approx(4.302652729911275 * c.standard_error)


def test_only_items_scored_for_both_versions_pair_and_datasets_never_mix():
    candidate = scores([1.0, 1.0, 1.0], "d") | scores([0.0], "other")
    current = scores([0.5, 0.5], "d") | scores([1.0, 1.0], "third")

    c = paired_comparison(candidate, current, metric="acc", level=0.95)

    assert c.n == 2
    assert c.datasets == ("d",)
    assert (c.candidate_only, c.current_only) == (2, 2)
    assert c.mean_difference == pytest.approx(0.5)


def test_no_pairs_and_a_single_pair_have_no_interval():
    none = paired_comparison(scores([1.0], "a"), scores([1.0], "b"), metric="acc", level=0.95)
    assert (none.n, none.mean_difference, none.low) == (0, None, None)
    one = paired_comparison(scores([1.0]), scores([0.25]), metric="acc", level=0.95)
    assert (one.n, one.mean_difference, one.low, one.high) == (1, 0.75, None, None)
    assert judge(one, min_delta=0, min_items=1).verdict == "too_few_items"


def test_an_items_repeated_runs_are_averaged_first_so_it_counts_once():
    runs = [(("d", "a"), 1.0), (("d", "a"), 0.0), (("d", "a"), 0.5), (("d", "b"), 0.25)]

    means = item_means(runs)

    assert means == {("d", "a"): 0.5, ("d", "b"): 0.25}


def test_the_biggest_gains_and_losses_name_their_items():
    current = [0.5] * 12
    candidate = [0.5 + d for d in (0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.0, -0.1, -0.2, -0.3, -0.4, 0)]

    c = paired_comparison(scores(candidate), scores(current), metric="acc", level=0.95)

    assert [m.item_id for m in c.gains] == [f"item-{i:03d}" for i in range(5)]
    assert [m.difference for m in c.gains] == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1])
    assert [m.item_id for m in c.losses] == ["item-010", "item-009", "item-008", "item-007"]
    assert all(m.difference < 0 for m in c.losses)


def test_the_gate_passes_only_above_min_delta_with_enough_items():
    candidate, current = noisy_pair(40, 0.3, 0.1)
    clear = paired_comparison(scores(candidate), scores(current), metric="acc", level=0.95)

    assert judge(clear, min_delta=0.0, min_items=30).verdict == "passes"
    assert judge(clear, min_delta=0.0, min_items=41).verdict == "too_few_items"
    assert judge(clear, min_delta=clear.high or 0, min_items=30).verdict == "not_better"
    assert judge(None, min_delta=0.0, min_items=30).passes  # nothing to beat


def test_a_higher_mean_whose_interval_crosses_min_delta_is_not_enough_evidence():
    current = [0.5] * 40
    candidate = [0.5 + d for d in [0.3, -0.24] * 20]  # +0.03 on average, noisy item by item
    noisy = paired_comparison(scores(candidate), scores(current), metric="acc", level=0.95)
    assert noisy.mean_difference is not None and noisy.mean_difference > 0
    assert noisy.low is not None and noisy.low < 0 < (noisy.high or 0)

    decision = judge(noisy, min_delta=0.0, min_items=30)

    assert decision.verdict == "not_enough_evidence" and not decision.passes
    assert decision.items_needed is not None and decision.items_needed > 40


def test_items_needed_is_the_power_calculation_of_the_one_sided_t_test():
    current = [0.5] * 40
    candidate = [0.5 + d for d in [0.35, -0.25] * 20]  # +0.05 on average
    c = paired_comparison(scores(candidate), scores(current), metric="acc", level=0.95)
    assert c.mean_difference is not None and c.standard_deviation is not None

    needed = items_needed(c, 0.0)

    # Reference: the power of the one-sided test at alpha/2 from scipy.stats' non-central t.
    def power(n: int) -> float:
        critical = stats.t.ppf(0.975, n - 1)
        effect = c.mean_difference / c.standard_deviation * math.sqrt(n)
        return stats.nct.sf(critical, n - 1, effect)

    assert needed is not None
    assert power(needed) >= 0.8 > power(needed - 1)
    # Close to the normal approximation n = ((z_a/2 + z_b) * sd / d)^2 for a large n.
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    approximate = (z * c.standard_deviation / c.mean_difference) ** 2
    assert needed == pytest.approx(approximate, rel=0.05)


def test_no_number_of_items_helps_a_difference_not_above_min_delta():
    candidate, current = noisy_pair(40, 0.0, 0.2)
    c = paired_comparison(scores(candidate), scores(current), metric="acc", level=0.95)
    assert items_needed(c, (c.mean_difference or 0) + 0.01) is None
    same = paired_comparison(scores([0.6] * 5), scores([0.5] * 5), metric="acc", level=0.95)
    assert same.standard_error == 0 and items_needed(same, 0.0) == 2


def test_the_promoted_versions_evidence_tag_reads_back_in_words():
    candidate, current = noisy_pair(40, 0.3, 0.1)
    decision = judge(
        paired_comparison(scores(candidate), scores(current), metric="accuracy", level=0.95),
        min_delta=0.0,
        min_items=30,
    )

    tag = evidence_tag("production", decision)

    assert tag is not None and len(tag) <= 100
    assert recorded_evidence(["other", tag], "production") == compact(decision)
    assert recorded_evidence([tag], "staging") is None
