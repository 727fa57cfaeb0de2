"""The one seam on the Opik SDK's insides (``prompt_sync_pipeline/opik/sdk.py``): prompt-sync
declares ``opik>=2.2.122,<3``, so a release that moves one of these attributes must break here,
by name, rather than somewhere in a sync."""

from __future__ import annotations

import pytest

from prompt_sync_pipeline.opik import sdk
from prompt_sync_pipeline.opik.settings import OpikSettings


def test_the_rest_client_is_built_with_the_sdks_settings_and_given_values(opik_target):
    settings = OpikSettings(project_name=opik_target.project_name, timeout_seconds=7)

    connect, workspace = sdk.rest_factory(settings)  # from OPIK_URL_OVERRIDE, OPIK_WORKSPACE
    rest = connect()
    try:
        assert workspace == opik_target.workspace
        assert sdk.base_url(rest).rstrip("/") == opik_target.url.rstrip("/")
        http = sdk.http_client(rest)
        assert http.timeout.read == 7
        assert http.headers["Comet-Workspace"] == opik_target.workspace
    finally:
        sdk.http_client(rest).close()

    given, named = sdk.rest_factory(settings, workspace="another")
    assert named == "another"
    sdk.http_client(given()).close()


def test_send_answers_through_the_sdks_wrapper_and_raises_its_error(opik_target):
    from opik.rest_api.core.api_error import ApiError

    connect, _ = sdk.rest_factory(OpikSettings(project_name=opik_target.project_name))
    rest = connect()
    try:
        listed = sdk.send(rest, "GET", "v1/private/prompts", params={"size": 1})
        assert listed.status_code == 200 and "content" in listed.json()
        with pytest.raises(ApiError) as raised:
            sdk.send(rest, "GET", "v1/private/prompts/versions/not-a-version")
        assert raised.value.status_code == 404
    finally:
        sdk.http_client(rest).close()
