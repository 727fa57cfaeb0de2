"""Opik's restore through the SDK: a new latest version with the old one's content and metadata
(Opik's PromptService copies the version), tags not copied; responses checked against the spec."""

from __future__ import annotations

import pytest
from opik.api_objects.prompt.types import PromptType
from opik.rest_api.core.api_error import ApiError

NAME = "restore-me"


def test_restore_is_a_new_latest_version_with_the_old_content_and_metadata(
    opik_client, opik_target, openapi_checked
):
    rest = opik_client.rest_client.prompts
    first = [{"role": "system", "content": "S {{a}}"}, {"role": "user", "content": "U {{b}}"}]
    opik_client.create_chat_prompt(
        name=NAME,
        messages=first,
        metadata={"origin": "v1"},
        type=PromptType.JINJA2,
        tags=["reviewed"],
        project_name=opik_target.project_name,
    )
    opik_client.create_chat_prompt(
        name=NAME,
        messages=[first[0], {"role": "user", "content": "U2 {{b}}"}],
        project_name=opik_target.project_name,
    )
    latest = rest.retrieve_prompt_version(name=NAME, project_name=opik_target.project_name)
    v1 = next(
        v for v in rest.get_prompt_versions(latest.prompt_id).content if v.version_number == "v1"
    )

    restored = rest.restore_prompt_version(latest.prompt_id, v1.id)

    assert restored.id not in (v1.id, latest.id) and restored.commit != v1.commit
    assert restored.version_number == "v3"
    assert (restored.template, restored.type, restored.metadata) == (
        v1.template,
        "jinja2",
        {"origin": "v1"},
    )
    assert not restored.tags  # Opik doesn't copy tags
    assert restored.change_description == f"Restored from version {v1.commit}"
    now = opik_client.get_chat_prompt(name=NAME, project_name=opik_target.project_name)
    assert (now.commit, now.template) == (restored.commit, first)


def test_restoring_a_version_of_another_prompt_is_not_found(opik_client, opik_target):
    rest = opik_client.rest_client.prompts
    for name in ("one", "two"):
        opik_client.create_prompt(
            name=name, prompt=f"{name} {{x}}", project_name=opik_target.project_name
        )
    one = rest.retrieve_prompt_version(name="one", project_name=opik_target.project_name)
    two = rest.retrieve_prompt_version(name="two", project_name=opik_target.project_name)

    with pytest.raises(ApiError) as caught:
        rest.restore_prompt_version(one.prompt_id, two.id)
    assert caught.value.status_code == 404
