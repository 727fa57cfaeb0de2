"""The one seam into the opik SDK's insides (``prompt_sync_pipeline/opik/sdk.py``), tried on a real
client: an SDK upgrade that moves what it relies on fails here, loudly, naming the version."""

from __future__ import annotations

from importlib.metadata import version

import httpx
import pytest
from opik.rest_api.core.api_error import ApiError

from prompt_sync_pipeline.opik import OpikSettings, sdk

SDK = f"opik {version('opik')}"


@pytest.fixture
def rest(opik_target):
    connect, workspace = sdk.rest_factory(OpikSettings(project_name=opik_target.project_name))
    assert workspace == opik_target.workspace  # from OPIK_WORKSPACE, as the SDK reads it
    client = connect()
    yield client
    sdk.http_client(client).close()


def test_the_private_attributes_the_seam_reads_are_where_it_expects(rest, opik_target):
    wrapper = getattr(rest, "_client_wrapper", None)
    assert wrapper is not None, f"{SDK}: OpikApi has no _client_wrapper any more"
    assert callable(getattr(wrapper, "get_base_url", None)), f"{SDK}: no get_base_url"
    assert isinstance(sdk.http_client(rest), httpx.Client), f"{SDK}: the httpx client moved"
    assert sdk.base_url(rest) == opik_target.url


def test_a_raw_request_carries_the_sdks_headers_and_raises_its_error(rest, opik_target):
    answer = sdk.send(rest, "GET", "v1/private/prompts", params={"page": 1, "size": 1})
    assert answer.status_code == 200 and "content" in answer.json()
    assert answer.request.headers["Comet-Workspace"] == opik_target.workspace
    with pytest.raises(ApiError) as refused:
        sdk.send(rest, "GET", "v1/private/prompts/not-a-uuid")
    assert refused.value.status_code in (400, 404)


def test_settings_given_win_over_the_sdks_variables(opik_target):
    connect, workspace = sdk.rest_factory(
        OpikSettings(project_name="p", timeout_seconds=7), workspace="other-team"
    )
    client = connect()
    try:
        assert workspace == "other-team"
        assert sdk.http_client(client).timeout == httpx.Timeout(7)
    finally:
        sdk.http_client(client).close()
