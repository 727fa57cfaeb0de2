"""Fault injection, latency, the request log, and wire details (gzip, nulls, error bodies).

Fault tests use a raw REST client without the SDK's retry wrapper, which would sleep 5-15 s
per retry; they need the emulator and skip against a real Opik.
"""

from __future__ import annotations

import gzip
import json
import time

import httpx
import pytest
from opik.rest_api.core.api_error import ApiError
from opik.rest_api.types.prompt_version_detail import PromptVersionDetail

from opik_emulator import AdminClient, FaultRule

CREATE = r"/prompts/versions$"
RETRIEVE = r"/prompts/versions/retrieve$"


@pytest.fixture
def target(opik_target):
    opik_target.require_emulator()
    return opik_target


@pytest.fixture
def rest(target):
    return target.rest_client()


@pytest.fixture
def http(target):
    """Plain httpx on the API root, with this test's workspace header."""
    with httpx.Client(base_url=target.url, headers={"Comet-Workspace": target.workspace}) as c:
        yield c


def create(rest, target, name="p", template="Hello {{name}}", **version):
    return rest.prompts.create_prompt_version(
        name=name,
        version=PromptVersionDetail(template=template, **version),
        project_name=target.project_name,
    )


def test_503_twice_then_success(rest, target):
    target.inject(CREATE, "POST", status=503, times=2)

    for _ in range(2):
        with pytest.raises(ApiError) as error:
            create(rest, target)
        assert error.value.status_code == 503
    created = create(rest, target)

    assert created.version_number == "v1"
    assert [r.status for r in target.requests()] == [503, 503, 200]


def test_429_carries_retry_after(rest, target):
    target.inject(RETRIEVE, "POST", status=429, headers={"Retry-After": "7"})

    with pytest.raises(ApiError) as error:
        rest.prompts.retrieve_prompt_version(name="p", project_name=target.project_name)

    assert error.value.status_code == 429
    assert error.value.headers["retry-after"] == "7"
    with pytest.raises(ApiError) as error:  # the rule was used up: a normal 404 now
        rest.prompts.retrieve_prompt_version(name="p", project_name=target.project_name)
    assert error.value.status_code == 404


def test_dropped_connection_is_a_protocol_error(rest, target):
    target.inject(CREATE, "POST", drop=True)

    with pytest.raises(httpx.RemoteProtocolError):
        create(rest, target)

    record = target.requests()[-1]
    assert record.status is None and record.fault is not None
    assert create(rest, target).version_number == "v1"  # nothing was written


def test_dropped_response_after_commit_keeps_the_write(rest, target):
    target.inject(CREATE, "POST", drop=True, after_commit=True)

    with pytest.raises(httpx.RemoteProtocolError):
        create(rest, target, template="lost response")

    latest = rest.prompts.retrieve_prompt_version(name="p", project_name=target.project_name)
    assert latest.template == "lost response" and latest.version_number == "v1"


def test_status_after_commit(rest, target):
    target.inject(CREATE, "POST", status=500, after_commit=True)
    with pytest.raises(ApiError):
        create(rest, target)
    assert create(rest, target, template="second").version_number == "v2"


def test_rules_match_method_and_workspace(rest, target):
    target.inject(CREATE, "GET", status=503)  # wrong method: never fires
    target.inject(CREATE, "POST", status=503, workspace="another-workspace")
    assert create(rest, target).version_number == "v1"


def test_latency_is_added(rest, target):
    target.set_latency(150)
    started = time.perf_counter()
    with pytest.raises(ApiError):
        rest.prompts.retrieve_prompt_version(name="p", project_name=target.project_name)
    assert time.perf_counter() - started >= 0.145  # the event loop may wake a hair early
    target.set_latency(0)


def test_request_log_is_per_workspace_and_clearable(http, target):
    http.post("/v1/private/prompts/versions/retrieve", json={"name": "x"})
    http.get("/v1/private/prompts", headers={"Comet-Workspace": f"{target.workspace}-b"})

    records = target.requests()
    assert [(r.method, r.path, r.status, r.workspace) for r in records] == [
        ("POST", "/api/v1/private/prompts/versions/retrieve", 404, target.workspace)
    ]
    assert records[0].timestamp and records[0].duration_ms >= 0
    target.clear_requests()
    assert target.requests() == []
    assert len(target.control.requests(f"{target.workspace}-b")) == 1


def test_admin_http_routes_control_the_emulator(http, target):
    admin = AdminClient(target.url)
    try:
        assert admin.is_emulator()
        rule = admin.add_fault(
            FaultRule(path=r"/prompts$", method="GET", status=418, workspace=target.workspace)
        )
        assert http.get("/v1/private/prompts").status_code == 418
        assert http.get("/v1/private/prompts").status_code == 200
        admin.remove_fault(rule.id)
        statuses = [r.status for r in admin.requests(target.workspace)]
        assert statuses == [418, 200]
        admin.clear_requests(target.workspace)
        assert admin.requests(target.workspace) == []
    finally:
        admin.close()


def test_gzip_request_bodies_are_inflated(http, target):
    body = {
        "name": "zipped",
        "version": {"template": "x" * 500 + " {{v}}", "metadata": None, "type": "mustache"},
        "template_structure": "text",
        "project_name": target.project_name,
        "unknown_property": {"ignored": True},
    }
    response = http.post(
        "/v1/private/prompts/versions",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["variables"] == ["v"]
    assert "metadata" not in response.json()  # explicit null is absent

    broken = http.post(
        "/v1/private/prompts/versions",
        content=b"\x1f\x8bnot really gzip",
        headers={"Content-Encoding": "gzip"},
    )
    assert broken.status_code == 400


def test_the_sdk_gzips_large_bodies(opik_client, target):
    long = "word " * 100
    assert opik_client.create_prompt("big", long).prompt == long
    assert opik_client.get_prompt("big", no_cache=True).prompt == long


def test_error_statuses_and_bodies(http, target):
    retrieve = "/v1/private/prompts/versions/retrieve"

    missing = http.post(retrieve, json={"name": "nope", "commit": None, "environment": None})
    assert missing.status_code == 404
    assert missing.json() == {"code": 404, "message": "Prompt not found"}

    both = http.post(retrieve, json={"name": "nope", "commit": "abcdefgh", "version_number": "v1"})
    assert both.status_code == 422 and "errors" in both.json()

    blank = http.post(retrieve, json={"name": " "})
    assert blank.status_code == 422

    not_v7 = http.post(
        "/v1/private/prompts",
        json={"name": "p", "id": "6f1c2a3e-1111-4222-8333-444455556666", "template": "t"},
    )
    assert not_v7.status_code == 400
    assert not_v7.json() == {"errors": ["prompt id must be a version 7 UUID"]}

    first = http.post(
        "/v1/private/prompts/versions",
        json={"name": "dup", "version": {"template": "a", "commit": "deadbeef"}},
    )
    assert first.status_code == 200 and first.json()["commit"] == "deadbeef"
    duplicate = http.post(
        "/v1/private/prompts/versions",
        json={"name": "dup", "version": {"template": "b", "commit": "deadbeef"}},
    )
    assert duplicate.status_code == 409
    assert duplicate.json() == {"code": 409, "message": "Prompt version already exists"}

    created = http.post("/v1/private/prompts", json={"name": "dup", "template": "c"})
    assert created.status_code == 409


def test_create_prompt_answers_201_with_location(http, target):
    response = http.post(
        "/v1/private/prompts",
        json={"name": "located", "template": "t", "project_name": target.project_name},
    )
    assert response.status_code == 201 and response.content == b""
    prompt = http.get(response.headers["Location"]).json()
    assert prompt["name"] == "located" and prompt["latest_version"]["version_number"] == "v1"


def test_a_held_request_is_overtaken_then_handled(rest, target):
    import threading

    hold = target.inject(CREATE, "POST", hold_ms=400)
    slow = threading.Thread(target=lambda: create(rest, target, template="slow"))
    slow.start()
    deadline = time.monotonic() + 5
    while hold.hits == 0 and time.monotonic() < deadline:  # the slow write is being held
        time.sleep(0.01)
    create(target.rest_client(), target, template="fast")
    slow.join()

    history = rest.prompts.get_prompt_versions(
        rest.prompts.retrieve_prompt_version(name="p", project_name=target.project_name).prompt_id
    )
    assert [v.template for v in history.content] == ["slow", "fast"]  # newest first
