"""The promotion gate's arithmetic, on plain values (no Opik)."""

from __future__ import annotations

import pytest

from prompt_sync_pipeline.performance.models import ExperimentRun, VersionPerformance
from prompt_sync_pipeline.promotion.models import ReleaseUsageError, choose_metric, compare


def version(label: str, *runs: tuple[str, str, dict[str, float]]) -> VersionPerformance:
    experiments = tuple(
        ExperimentRun(f"{label}-{name}", name, dataset, 3, None, scores)
        for name, dataset, scores in runs
    )
    return VersionPerformance(label, label, label, None, False, experiments)


def test_at_least_means_a_tie_passes_and_the_delta_raises_the_bar():
    current = version("v1", ("a", "d", {"acc": 0.5}))
    candidate = version("v2", ("b", "d", {"acc": 0.5}))

    assert compare(candidate, current, "acc").passes
    assert not compare(candidate, current, "acc", min_delta=0.01).passes
    assert compare(candidate, current, "acc", min_delta=-0.1).required == pytest.approx(0.4)


def test_only_experiments_on_shared_datasets_count():
    current = version("v1", ("a", "easy", {"acc": 0.9}), ("b", "hard", {"acc": 0.3}))
    candidate = version("v2", ("c", "hard", {"acc": 0.4}))

    comparison = compare(candidate, current, "acc")

    assert comparison.datasets == ("hard",)
    assert comparison.current is not None and comparison.current.score == pytest.approx(0.3)
    assert [e.name for e in comparison.current.experiments] == ["b"]
    assert comparison.passes


def test_nothing_comparable_is_not_a_pass_but_nothing_held_is():
    current = version("v1", ("a", "d1", {"acc": 0.1}))
    candidate = version("v2", ("b", "d2", {"acc": 0.9}))

    assert not compare(candidate, current, "acc").comparable
    assert not compare(candidate, current, "acc").passes
    assert compare(candidate, None, None).passes


def test_the_metric_is_the_only_shared_one_or_the_user_chooses():
    current = version("v1", ("a", "d", {"acc": 0.5, "tone": 0.5}))
    one = version("v2", ("b", "d", {"acc": 0.6}))
    two = version("v3", ("c", "d", {"acc": 0.6, "tone": 0.1}))

    assert choose_metric(one, current, None) == (
        "acc",
        "the only metric both v2 and v1 were scored on, over a shared dataset",
    )
    assert choose_metric(two, current, "tone", source="given with --metric") == (
        "tone",
        "given with --metric",
    )
    with pytest.raises(ReleaseUsageError, match="acc, tone: choose one with --metric"):
        choose_metric(two, current, None)


def test_an_unknown_metric_is_bad_usage_with_the_valid_names():
    current = version("v1", ("a", "d", {"acc": 0.5, "tone": 0.5}))
    candidate = version("v2", ("b", "d", {"acc": 0.6}))

    with pytest.raises(ReleaseUsageError, match="the metrics scored: acc, tone"):
        choose_metric(candidate, current, "accuracy", known=["acc", "tone"])


def test_no_shared_metric_is_said_in_words_never_as_none():
    current = version("v1", ("a", "d", {"acc": 0.5}))
    candidate = version("v2", ("b", "d", {"tone": 0.6}))

    metric, reason = choose_metric(candidate, current, None)

    assert metric is None
    assert reason == (
        "no metric: v2 and v1 were never scored on the same metric over a shared dataset"
    )
