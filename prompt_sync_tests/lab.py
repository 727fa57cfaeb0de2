"""Experiments recorded the way a data scientist records them, through the SDK: a dataset, one
trace per item, an experiment linked to prompt versions, and feedback scores with known values
(by hand with ``Lab.experiment``, or with the SDK's own ``evaluate()``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean
from typing import Any

import pytest

from prompt_sync_tests.forseti import COMPOSITE, Forseti
from prompt_sync_tests.opik_target import OpikTarget

Scores = Mapping[str, float]
# Two optimizations of the forseti example's charter task, one better than the other.
BRIEF = "Judge {{post}} against {{charter}}, briefly."
RAMBLING = "Judge {{post}} against {{charter}}, at great length."


@dataclass
class Lab:
    """Records evaluation experiments through the SDK, and what Opik should report for them."""

    client: Any
    project: str
    dataset_size: int = 3
    expected: dict[str, dict[str, float]] = field(default_factory=dict)  # experiment -> means

    def __post_init__(self) -> None:
        from opik import id_helpers

        self.dataset_name = f"{self.project}-eval"
        self.item_ids = [id_helpers.generate_id() for _ in range(self.dataset_size)]
        dataset = self.client.get_or_create_dataset(self.dataset_name, project_name=self.project)
        dataset.insert(
            [
                {"id": item_id, "input": {"post": f"post {i}"}, "expected": "allowed"}
                for i, item_id in enumerate(self.item_ids)
            ]
        )

    def version(self, name: str, number: int) -> Any:
        prompt = self.client.get_chat_prompt(
            name=name, project_name=self.project, version=f"v{number}", no_cache=True
        )
        assert prompt is not None, f"{name} v{number} not in Opik"
        return prompt

    def new_version(self, forseti: Forseti, name: str, user: str) -> Any:
        """Someone saves an optimized composite in Opik."""
        return self.client.create_chat_prompt(
            name=name, messages=forseti.messages(user=user), project_name=self.project
        )

    def experiment(self, name: str, prompts: Sequence[Any], per_trace: Sequence[Scores]) -> None:
        """One run over the dataset: a trace per item, scored with ``per_trace[i]``."""
        from opik.api_objects.experiment.experiment_item import ExperimentItemReferences

        assert len(per_trace) == self.dataset_size
        experiment = self.client.create_experiment(
            dataset_name=self.dataset_name,
            name=name,
            prompts=list(prompts),
            project_name=self.project,
        )
        traces = [
            self.client.trace(
                name=name,
                input={"post": f"post {i}"},
                output={"verdict": "allowed"},
                project_name=self.project,
            )
            for i in range(self.dataset_size)
        ]
        experiment.insert(
            [
                ExperimentItemReferences(dataset_item_id=item_id, trace_id=trace.id)
                for item_id, trace in zip(self.item_ids, traces, strict=True)
            ]
        )
        self.client.log_traces_feedback_scores(
            [
                {"id": trace.id, "name": metric, "value": value, "project_name": self.project}
                for trace, scores in zip(traces, per_trace, strict=True)
                for metric, value in scores.items()
            ]
        )
        # What the backend reports: per metric, the mean over the traces that carry it.
        metrics = {metric for scores in per_trace for metric in scores}
        self.expected[name] = {
            metric: fmean(scores[metric] for scores in per_trace if metric in scores)
            for metric in metrics
        }

    def flush(self) -> None:
        self.client.flush()


@pytest.fixture
def lab(opik_client: Any, opik_target: OpikTarget) -> Lab:
    return Lab(opik_client, opik_target.project_name)


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


def environments(client, forseti: Forseti) -> dict[str, list[str]]:
    """Version label -> the environments it holds, as the SDK reads them."""
    rest = client.rest_client.prompts
    latest = rest.retrieve_prompt_version(
        name=COMPOSITE, project_name=forseti.config.opik.project_name
    )
    versions = rest.get_prompt_versions(latest.prompt_id, size=100).content or []
    return {v.version_number: sorted(v.environments or []) for v in versions}


def production(client, forseti: Forseti) -> str | None:
    holders = [
        label for label, envs in environments(client, forseti).items() if "production" in envs
    ]
    assert len(holders) <= 1
    return holders[0] if holders else None
