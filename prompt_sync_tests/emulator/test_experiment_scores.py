"""Experiments linked to prompt versions, and their feedback-score averages, through the SDK.

This is what a "prompt performance" view reads: ``GET /experiments?prompt_id=`` with each
experiment's ``prompt_versions`` and ``feedback_scores`` (per trace the mean over authors, then
the mean over the experiment's traces).
"""

from __future__ import annotations

import pytest
from opik.api_objects.experiment.experiment_item import ExperimentItemReferences
from opik.rest_api.types.feedback_score_batch_item import FeedbackScoreBatchItem

pytestmark = pytest.mark.usefixtures("openapi_checked")


@pytest.fixture
def evaluated(opik_client):
    """Prompt "judge" v1 and v2, a 3-item dataset, and experiments A (v1, two traces) and
    B (v2, one trace) with scores; prompt "other" with its own experiment C."""
    v1 = opik_client.create_prompt("judge", "Is {{post}} civil?")
    v2 = opik_client.create_prompt("judge", "Rate how civil {{post}} is.")
    other = opik_client.create_prompt("other", "Unrelated {{x}}")
    dataset = opik_client.get_or_create_dataset("posts")
    dataset.insert([{"post": "hello"}, {"post": "you fool"}, {"post": "thanks"}])
    items = [item["id"] for item in dataset.get_items()]
    traces = [
        opik_client.trace(name=f"t{i}", input={"i": i}, output={"ok": True}) for i in range(4)
    ]
    opik_client.flush()

    a = opik_client.create_experiment(dataset_name="posts", name="A", prompts=[v1])
    a.insert([ExperimentItemReferences(items[0], traces[0].id)])
    a.insert([ExperimentItemReferences(items[1], traces[1].id)])
    b = opik_client.create_experiment(dataset_name="posts", name="B", prompt=v2)
    b.insert([ExperimentItemReferences(items[2], traces[2].id)])
    c = opik_client.create_experiment(dataset_name="posts", name="C", prompts=[other])
    c.insert([ExperimentItemReferences(items[0], traces[3].id)])

    opik_client.log_traces_feedback_scores(
        [
            {"id": traces[0].id, "name": "civility", "value": 1.0},
            {"id": traces[1].id, "name": "civility", "value": 1.0},
            {"id": traces[1].id, "name": "latency", "value": 3.0},
            {"id": traces[2].id, "name": "civility", "value": 0.25},
            {"id": traces[3].id, "name": "civility", "value": 0.0},
        ]
    )
    # A second author on trace 0: the backend averages authors per trace first.
    opik_client.rest_client.traces.score_batch_of_traces(
        scores=[
            FeedbackScoreBatchItem(
                id=traces[0].id, name="civility", value=0.0, source="ui", author="reviewer"
            )
        ]
    )
    opik_client.flush()
    return {"v1": v1, "v2": v2, "other": other, "a": a, "b": b, "c": c}


def _scores(experiment):
    return {s.name: s.value for s in experiment.feedback_scores or []}


def test_experiments_of_a_prompt_carry_versions_and_average_scores(opik_client, evaluated):
    prompt_id = evaluated["v1"].__internal_api__prompt_id__

    page = opik_client.rest_client.experiments.find_experiments(prompt_id=prompt_id, size=100)

    by_name = {e.name: e for e in page.content}
    assert set(by_name) == {"A", "B"} and page.total == 2
    assert [e.name for e in page.content] == ["B", "A"]  # newest first
    a, b = by_name["A"], by_name["B"]
    assert [
        (v.prompt_version_id, v.commit, v.prompt_id, v.prompt_name) for v in a.prompt_versions
    ] == [(evaluated["v1"].version_id, evaluated["v1"].commit, prompt_id, "judge")]
    assert b.prompt_versions[0].prompt_version_id == evaluated["v2"].version_id
    # A: trace 0 = mean(1.0, 0.0) = 0.5, trace 1 = 1.0 → 0.75; latency only on trace 1.
    assert _scores(a) == {"civility": 0.75, "latency": 3.0}
    assert _scores(b) == {"civility": 0.25}
    assert (a.trace_count, b.trace_count) == (2, 1)
    assert a.dataset_name == "posts" and a.metadata["prompts"] == {"judge": "Is {{post}} civil?"}


def test_experiment_listing_pages(opik_client, evaluated):
    experiments = opik_client.rest_client.experiments
    first = experiments.find_experiments(page=1, size=2)
    second = experiments.find_experiments(page=2, size=2)

    assert first.total == 3 and (first.size, second.size) == (2, 1)
    assert [e.name for e in first.content + second.content] == ["C", "B", "A"]


def test_experiment_by_id(opik_client, evaluated):
    experiment = opik_client.rest_client.experiments.get_experiment_by_id(evaluated["c"].id)

    assert experiment.name == "C" and _scores(experiment) == {"civility": 0.0}
    assert experiment.prompt_versions[0].prompt_name == "other"
    assert opik_client.get_experiment_by_id(evaluated["a"].id).name == "A"
