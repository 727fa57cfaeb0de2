"""Opik's evaluation routes (datasets, traces, spans, feedback scores, experiments and their
items): thin handlers over :class:`~opik_emulator.evaluation.ExperimentStore`."""

from __future__ import annotations

import json

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from opik_emulator.evaluation import ExperimentStore
from opik_emulator.wire import Call, endpoint, no_content, ok

P = "/v1/private"


def _store(call: Call) -> ExperimentStore:
    return call.state.experiments


# -- datasets ------------------------------------------------------------------------------


@endpoint
async def create_dataset(call: Call) -> Response:
    return call.created(_store(call).create_dataset(call.workspace, await call.json()))


@endpoint
async def find_datasets(call: Call) -> Response:
    return ok(
        _store(call).list_datasets(
            call.workspace,
            call.query_int("page", 1),
            call.query_int("size", 10),
            call.query("name"),
        )
    )


@endpoint
async def retrieve_dataset(call: Call) -> Response:
    body = await call.json()
    return ok(_store(call).retrieve_dataset(call.workspace, body.get("dataset_name")))


@endpoint
async def get_dataset(call: Call) -> Response:
    return ok(_store(call).get_dataset(call.workspace, call.path("id")))


@endpoint
async def delete_dataset_by_name(call: Call) -> Response:
    body = await call.json()
    _store(call).delete_dataset_by_name(call.workspace, body.get("dataset_name"))
    return no_content()


@endpoint
async def upsert_dataset_items(call: Call) -> Response:
    _store(call).upsert_items(call.workspace, await call.json())
    return no_content()


@endpoint
async def delete_dataset_items(call: Call) -> Response:
    body = await call.json()
    _store(call).delete_items(call.workspace, body.get("item_ids"))
    return no_content()


@endpoint
async def get_dataset_items(call: Call) -> Response:
    return ok(
        _store(call).list_items(
            call.workspace, call.path("id"), call.query_int("page", 1), call.query_int("size", 10)
        )
    )


def _json_lines(items: list[dict]) -> Response:
    """A streamed answer: one JSON object per line, as the SDK's stream parser reads it."""
    lines = "".join(json.dumps(item) + "\n" for item in items)
    return Response(lines, media_type="application/octet-stream")


@endpoint
async def stream_dataset_items(call: Call) -> Response:
    return _json_lines(_store(call).stream_items(call.workspace, await call.json()))


@endpoint
async def find_dataset_items_with_experiment_items(call: Call) -> Response:
    return ok(
        _store(call).compare_items(
            call.workspace,
            call.path("id"),
            page=call.query_int("page", 1),
            size=call.query_int("size", 10),
            experiment_ids=call.query("experiment_ids"),
            filters=call.query("filters"),
            sorting=call.query("sorting"),
            search=call.query("search"),
        )
    )


@endpoint
async def list_dataset_versions(call: Call) -> Response:
    # Dataset versioning is not emulated: a dataset is its current items.
    return ok({"page": 1, "size": 0, "total": 0, "content": []})


# -- traces, spans, feedback scores --------------------------------------------------------


@endpoint
async def create_traces(call: Call) -> Response:
    body = await call.json()
    _store(call).upsert_traces(call.workspace, "trace", body.get("traces"))
    return no_content()


@endpoint
async def create_spans(call: Call) -> Response:
    body = await call.json()
    _store(call).upsert_traces(call.workspace, "span", body.get("spans"))
    return no_content()


@endpoint
async def create_trace(call: Call) -> Response:
    body = await call.json()
    _store(call).upsert_traces(call.workspace, "trace", [body])
    return call.created(body.get("id") or "")


@endpoint
async def update_trace(call: Call) -> Response:
    _store(call).update_trace(call.workspace, "trace", call.path("id"), await call.json())
    return no_content()


@endpoint
async def update_span(call: Call) -> Response:
    _store(call).update_trace(call.workspace, "span", call.path("id"), await call.json())
    return no_content()


@endpoint
async def get_trace(call: Call) -> Response:
    return ok(_store(call).get_trace(call.workspace, call.path("id")))


@endpoint
async def score_traces(call: Call) -> Response:
    body = await call.json()
    _store(call).score(call.workspace, "trace", body.get("scores"))
    return no_content()


@endpoint
async def score_spans(call: Call) -> Response:
    body = await call.json()
    _store(call).score(call.workspace, "span", body.get("scores"))
    return no_content()


# -- experiments ---------------------------------------------------------------------------


@endpoint
async def create_experiment(call: Call) -> Response:
    return call.created(_store(call).create_experiment(call.workspace, await call.json()))


@endpoint
async def find_experiments(call: Call) -> Response:
    return ok(
        _store(call).list_experiments(
            call.workspace,
            page=call.query_int("page", 1),
            size=call.query_int("size", 10),
            prompt_id=call.query("prompt_id"),
            dataset_id=call.query("datasetId"),
            project_id=call.query("project_id"),
            name=call.query("name"),
            optimization_id=call.query("optimization_id"),
        )
    )


@endpoint
async def get_experiment(call: Call) -> Response:
    return ok(_store(call).get_experiment(call.workspace, call.path("id")))


@endpoint
async def update_experiment(call: Call) -> Response:
    _store(call).update_experiment(call.workspace, call.path("id"), await call.json())
    return no_content()


@endpoint
async def stream_experiments(call: Call) -> Response:
    return _json_lines(_store(call).stream_experiments(call.workspace, await call.json()))


@endpoint
async def stream_experiment_items(call: Call) -> Response:
    return _json_lines(_store(call).stream_experiment_items(call.workspace, await call.json()))


@endpoint
async def create_experiment_items(call: Call) -> Response:
    body = await call.json()
    _store(call).add_items(call.workspace, body.get("experiment_items"))
    return no_content()


ROUTES: list[BaseRoute] = [
    Route(f"{P}/datasets", find_datasets, methods=["GET"]),
    Route(f"{P}/datasets", create_dataset, methods=["POST"]),
    Route(f"{P}/datasets/retrieve", retrieve_dataset, methods=["POST"]),
    Route(f"{P}/datasets/delete", delete_dataset_by_name, methods=["POST"]),
    Route(f"{P}/datasets/items", upsert_dataset_items, methods=["PUT"]),
    Route(f"{P}/datasets/items/delete", delete_dataset_items, methods=["POST"]),
    Route(f"{P}/datasets/items/stream", stream_dataset_items, methods=["POST"]),
    Route(f"{P}/datasets/{{id}}", get_dataset, methods=["GET"]),
    Route(f"{P}/datasets/{{id}}/items", get_dataset_items, methods=["GET"]),
    Route(
        f"{P}/datasets/{{id}}/items/experiments/items",
        find_dataset_items_with_experiment_items,
        methods=["GET"],
    ),
    Route(f"{P}/datasets/{{id}}/versions", list_dataset_versions, methods=["GET"]),
    Route(f"{P}/traces", create_trace, methods=["POST"]),
    Route(f"{P}/traces/batch", create_traces, methods=["POST"]),
    Route(f"{P}/traces/feedback-scores", score_traces, methods=["PUT"]),
    Route(f"{P}/traces/{{id}}", get_trace, methods=["GET"]),
    Route(f"{P}/traces/{{id}}", update_trace, methods=["PATCH"]),
    Route(f"{P}/spans/batch", create_spans, methods=["POST"]),
    Route(f"{P}/spans/feedback-scores", score_spans, methods=["PUT"]),
    Route(f"{P}/spans/{{id}}", update_span, methods=["PATCH"]),
    Route(f"{P}/experiments", find_experiments, methods=["GET"]),
    Route(f"{P}/experiments", create_experiment, methods=["POST"]),
    Route(f"{P}/experiments/stream", stream_experiments, methods=["POST"]),
    Route(f"{P}/experiments/items", create_experiment_items, methods=["POST"]),
    Route(f"{P}/experiments/items/stream", stream_experiment_items, methods=["POST"]),
    Route(f"{P}/experiments/{{id}}", get_experiment, methods=["GET"]),
    Route(f"{P}/experiments/{{id}}", update_experiment, methods=["PATCH"]),
]
