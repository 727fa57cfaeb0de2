"""Per-item experiment results, read back the way a data scientist (or a promotion) reads them.

Two experiments are recorded by the SDK's own ``evaluate()`` over the same three-item dataset,
with known scores per item. They are read back with ``Experiment.get_items()`` (the compare
view, ``GET /datasets/{id}/items/experiments/items``), with the SDK's stream reader over
``POST /experiments/items/stream``, and paired by dataset item. Every JSON answer the SDK
receives is checked against Opik's OpenAPI spec; the streamed lines are checked one by one.
"""

from __future__ import annotations

import json

import httpx
import pytest
from opik import tracing_runtime_config
from opik.api_objects import rest_stream_parser
from opik.rest_api.types.experiment_item_public import ExperimentItemPublic

from prompt_sync_tests.lab import evaluate_version

pytestmark = pytest.mark.usefixtures("openapi_checked")

BASELINE = {"post 0": 1.0, "post 1": 0.5, "post 2": 0.0}
CANDIDATE = {"post 0": 0.25, "post 1": 0.75, "post 2": 1.0}


@pytest.fixture
def tracing():
    """Tracing on, as it is for a user: ``evaluate()`` records the task's output on its trace
    only then, and the suite turns it off (``OPIK_TRACK_DISABLE``)."""
    tracing_runtime_config.set_tracing_active(True)
    yield
    tracing_runtime_config.reset_tracing_to_config_default()


@pytest.fixture
def runs(lab, opik_client, tracing):
    """Experiment id by name: "baseline" on v1 of a prompt, "candidate" on v2."""
    v1 = opik_client.create_prompt("judge", "Is {{post}} civil?", project_name=lab.project)
    v2 = opik_client.create_prompt("judge", "Rate how civil {{post}} is.", project_name=lab.project)
    evaluate_version(lab, v1, "baseline", list(BASELINE.values()))
    evaluate_version(lab, v2, "candidate", list(CANDIDATE.values()))
    found = opik_client.rest_client.experiments.find_experiments(size=10).content
    return {e.name: e.id for e in found}


def _post(item_data):
    return item_data["input"]["post"]


def test_get_items_returns_the_per_item_scores_of_an_evaluate_run(opik_client, lab, runs):
    experiment = opik_client.get_experiment_by_name("baseline")  # POST /experiments/stream
    assert experiment.id == runs["baseline"]

    items = experiment.get_items()

    assert len(items) == 3
    assert {_post(i.dataset_item_data): i.feedback_scores[0]["value"] for i in items} == BASELINE
    assert all([s["name"] for s in i.feedback_scores] == ["accuracy"] for i in items)
    assert {i.dataset_item_id for i in items} == set(lab.item_ids)
    for item in items:  # the trace's output is the task's answer: the score it was given
        assert item.evaluation_task_output == {"output": BASELINE[_post(item.dataset_item_data)]}
        assert item.trace_id and item.id
    assert len({i.trace_id for i in items}) == 3


def test_the_compare_view_pairs_two_experiments_by_dataset_item(opik_client, lab, runs):
    dataset = opik_client.rest_client.datasets.get_dataset_by_identifier(
        dataset_name=lab.dataset_name
    )

    page = opik_client.rest_client.datasets.find_dataset_items_with_experiment_items(
        id=dataset.id, experiment_ids=json.dumps([runs["baseline"], runs["candidate"]])
    )

    assert page.total == 3 and len(page.content) == 3
    assert [row.id for row in page.content] == sorted(lab.item_ids, reverse=True)  # newest first
    by_name = {runs["baseline"]: "baseline", runs["candidate"]: "candidate"}
    pairs = {}
    for row in page.content:
        scores = {
            by_name[i.experiment_id]: i.feedback_scores[0].value for i in row.experiment_items
        }
        pairs[_post(row.data)] = (scores["baseline"], scores["candidate"])
    assert pairs == {post: (BASELINE[post], CANDIDATE[post]) for post in BASELINE}

    one = opik_client.rest_client.datasets.find_dataset_items_with_experiment_items(
        id=dataset.id, experiment_ids=json.dumps([runs["candidate"]]), page=2, size=2
    )
    assert (one.total, len(one.content), one.page) == (3, 1, 2)
    assert [len(row.experiment_items) for row in one.content] == [1]


def test_a_score_filter_keeps_the_items_that_meet_it(opik_client, lab, runs):
    experiments = opik_client.get_experiments_client()

    strong = experiments.find_experiment_items_for_dataset(
        dataset_name=lab.dataset_name,
        experiment_ids=[runs["baseline"], runs["candidate"]],
        filter_string="feedback_scores.accuracy >= 0.75",
    )

    kept = sorted((_post(i.dataset_item_data), i.feedback_scores[0]["value"]) for i in strong)
    assert kept == [("post 0", 1.0), ("post 1", 0.75), ("post 2", 1.0)]


def test_the_stream_pages_an_experiments_items_newest_first(opik_client, openapi_spec, runs):
    experiments = opik_client.rest_client.experiments
    pages = []

    def read_page(limit, last_retrieved_id):
        pages.append(last_retrieved_id)
        return experiments.stream_experiment_items(
            experiment_name="candidate", limit=limit, last_retrieved_id=last_retrieved_id
        )

    # The SDK's own stream reader, two items a page: three requests for three items.
    items = rest_stream_parser.read_and_parse_full_stream(
        read_source=read_page,
        parsed_item_class=ExperimentItemPublic,
        max_results=None,
        max_endpoint_batch_size=2,
    )

    assert len(items) == 3 and len(pages) == 2
    assert [i.id for i in items] == sorted((i.id for i in items), reverse=True)
    assert {i.experiment_id for i in items} == {runs["candidate"]}
    assert pages[1] == items[1].id  # the second page started after the first page's last id

    # Experiments are found by a part of their name, whatever its case.
    lines = b"".join(experiments.stream_experiment_items(experiment_name="CANDID"))
    streamed = [json.loads(line) for line in lines.splitlines()]
    assert sorted(_post(i["input"]) for i in streamed) == sorted(CANDIDATE)
    for item in streamed:
        assert item["output"] == {"output": CANDIDATE[_post(item["input"])]}
        assert [(s["name"], s["value"]) for s in item["feedback_scores"]] == [
            ("accuracy", CANDIDATE[_post(item["input"])])
        ]
    if openapi_spec is not None:  # octet-stream answers are not checked by openapi_checked
        _assert_items_match_the_spec(openapi_spec, streamed)


def _assert_items_match_the_spec(spec, items):
    from openapi_schema_validator import OAS31Validator

    schema = {"$ref": "#/components/schemas/ExperimentItem", "components": spec.spec["components"]}
    validator = OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER)
    problems = [error.message for item in items for error in validator.iter_errors(item)]
    assert not problems, problems


@pytest.fixture
def http(opik_target):
    headers = {"Comet-Workspace": opik_target.workspace}
    if opik_target.api_key:
        headers["Authorization"] = opik_target.api_key
    with httpx.Client(base_url=opik_target.url, headers=headers) as client:
        yield client


def test_the_stream_and_the_compare_view_refuse_bad_requests_as_opik_does(http, runs):
    stream = "/v1/private/experiments/items/stream"
    assert http.post(stream, json={}).status_code == 422
    assert http.post(stream, json={"experiment_name": "candidate", "limit": 0}).status_code == 422
    assert (
        http.post(stream, json={"experiment_name": "candidate", "limit": 2001}).status_code == 422
    )
    bad_id = http.post(stream, json={"experiment_name": "candidate", "last_retrieved_id": "x"})
    assert bad_id.status_code == 400
    nowhere = http.post(stream, json={"experiment_name": "candidate", "project_name": "nowhere"})
    assert nowhere.status_code == 200 and nowhere.content == b""
    assert http.post(stream, json={"experiment_name": "no-such-experiment"}).content == b""

    dataset_id = http.get(f"/v1/private/experiments/{runs['baseline']}").json()["dataset_id"]
    compare = f"/v1/private/datasets/{dataset_id}/items/experiments/items"
    assert http.get(compare).status_code == 400
    empty = http.get(compare, params={"experiment_ids": "[]"})
    assert empty.status_code == 400
    assert empty.json() == {"code": 400, "message": "experiment_ids cannot be empty"}
    assert http.get(compare, params={"experiment_ids": "[1, 2]"}).status_code == 400
    unknown = http.get(compare, params={"experiment_ids": json.dumps([dataset_id])})
    assert unknown.status_code == 200 and unknown.json()["total"] == 0
    by_duration = [{"field": "duration", "key": "", "operator": ">", "value": "1"}]
    refused = http.get(
        compare,
        params={
            "experiment_ids": json.dumps([runs["baseline"]]),
            "filters": json.dumps(by_duration),
        },
    )
    assert refused.status_code == 400  # a filter the emulator does not answer is not ignored


def test_an_experiment_linked_to_an_unknown_prompt_version_is_refused_and_not_stored(http):
    unknown = "01900000-0000-7000-8000-000000000000"
    created = http.post(
        "/v1/private/experiments",
        json={"dataset_name": "d", "name": "orphan", "prompt_versions": [{"id": unknown}]},
    )
    assert created.status_code == 404
    assert "Prompt version not found" in created.text
    listed = http.get("/v1/private/experiments", params={"name": "orphan"}).json()
    assert listed["total"] == 0
