"""Experiments recorded the way a data scientist records them: the SDK's own ``evaluate()``,
over the ``Lab`` dataset of the performance tests, with a metric that gives known scores."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean
from typing import Any

from prompt_sync_tests.test_performance import Lab


def evaluate_version(
    lab: Lab,
    prompt: Any,
    experiment: str,
    scores: Sequence[float],
    metric: str = "accuracy",
    dataset_name: str | None = None,
) -> float:
    """Run ``opik.evaluation.evaluate`` on ``prompt`` (a version) over the lab's dataset (or
    another one with the same items): item ``i`` scores ``scores[i]`` on ``metric``. Returns
    the mean Opik should report for the experiment."""
    from opik.api_objects import opik_client
    from opik.evaluation import evaluate
    from opik.evaluation.metrics import base_metric, score_result

    class KnownScore(base_metric.BaseMetric):
        def score(self, output: float, **ignored: Any) -> score_result.ScoreResult:
            return score_result.ScoreResult(name=self.name, value=output)

    assert len(scores) == lab.dataset_size
    by_post = {f"post {i}": score for i, score in enumerate(scores)}
    dataset = lab.client.get_or_create_dataset(
        dataset_name or lab.dataset_name, project_name=lab.project
    )
    if dataset_name is not None and not dataset.get_items():
        dataset.insert([{"input": {"post": post}} for post in by_post])
    # evaluate() logs through the SDK's global client: make it this test's, then let it go.
    opik_client.set_global_client(lab.client)
    try:
        evaluate(
            dataset=dataset,
            task=lambda item: {"output": by_post[item["input"]["post"]]},
            scoring_metrics=[KnownScore(name=metric)],
            experiment_name=experiment,
            prompts=[prompt],
            verbose=0,
            task_threads=1,
        )
    finally:
        opik_client.reset_global_client(end_client=False)
    lab.client.flush()
    return fmean(scores)
