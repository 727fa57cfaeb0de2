"""The emulator's contract, seen through the `opik` SDK's public API as a user would use it.

Every test here also validates each response body it triggers against Opik's OpenAPI spec
(``openapi_checked``, when ``../shared/opik/openapi.yaml`` exists). These tests pass against
a real Opik too (``PROMPT_SYNC_TEST_OPIK_URL``), except those that need the emulator itself.
"""

from __future__ import annotations

import uuid

import opik
import pytest
from opik.exceptions import (
    EnvironmentAlreadyExists,
    EnvironmentNotFoundError,
    PromptNotFoundError,
    PromptTemplateStructureMismatch,
)
from opik.rest_api.core.api_error import ApiError
from opik.rest_api.types.prompt_version_detail import PromptVersionDetail

from opik_emulator import EmulatorServer

pytestmark = pytest.mark.usefixtures("openapi_checked")

MESSAGES = [
    {"role": "system", "content": "You are {{tone}}."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Describe {{subject}}"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ],
    },
]


def test_openapi_spec_is_available_for_validation(openapi_spec):
    assert openapi_spec.operation("POST", "/api/v1/private/prompts/versions/retrieve")


def test_create_prompt_twice_makes_one_version_and_a_change_makes_v2(opik_client, opik_target):
    first = opik_client.create_prompt("greet", "Hello {{name}}", metadata={"owner": "ops"})
    again = opik_client.create_prompt("greet", "Hello {{name}}", metadata={"owner": "ops"})
    changed = opik_client.create_prompt("greet", "Hi {{name}}!", metadata={"owner": "ops"})

    assert (first.version, again.version, changed.version) == ("v1", "v1", "v2")
    assert again.commit == first.commit and changed.commit != first.commit
    assert first.commit == first.version_id[-8:]  # Opik's commit: the id's last 8 characters
    assert changed.prompt == "Hi {{name}}!" and changed.metadata == {"owner": "ops"}
    history = opik_client.get_prompt_history("greet")
    assert [p.version for p in history] == ["v2", "v1"]
    if opik_target.is_emulator:
        creates = [r for r in opik_target.requests() if r.path.endswith("/prompts/versions")]
        assert len(creates) == 2  # the identical second create wrote nothing


def test_metadata_change_alone_creates_a_version(opik_client):
    opik_client.create_prompt("meta", "Same text", metadata={"a": 1})
    second = opik_client.create_prompt("meta", "Same text", metadata={"a": 2})
    assert second.version == "v2" and second.metadata == {"a": 2}


def test_get_prompt_pinned_by_version_commit_and_environment(opik_client):
    v1 = opik_client.create_prompt("pinned", "one {{x}}")
    opik_client.create_prompt("pinned", "two {{x}}")
    v3 = opik_client.create_prompt("pinned", "three {{x}}")

    assert opik_client.get_prompt("pinned", version="v1", no_cache=True).prompt == "one {{x}}"
    assert opik_client.get_prompt("pinned", commit=v3.commit, no_cache=True).prompt == "three {{x}}"
    assert opik_client.get_prompt("pinned", no_cache=True).commit == v3.commit
    assert opik_client.get_prompt("pinned", version="v9", no_cache=True) is None
    assert opik_client.get_prompt("pinned", commit="00000000", no_cache=True) is None
    assert opik_client.get_prompt("missing", no_cache=True) is None

    opik_client.set_prompt_environments("pinned", ["production"], version="v1")
    assert opik_client.get_prompt("pinned", environment="production", no_cache=True).commit == (
        v1.commit
    )
    assert opik_client.get_prompt("pinned", environment="staging", no_cache=True) is None


def test_environment_ownership_moves_and_new_versions_do_not_inherit(opik_client):
    opik_client.create_prompt("envs", "a")
    opik_client.create_prompt("envs", "b")
    opik_client.set_prompt_environments("envs", ["production", "staging"], version="v1")
    opik_client.set_prompt_environments("envs", ["production"], version="v2")

    by_version = {p.version: p.environments for p in opik_client.get_prompt_history("envs")}
    assert by_version == {"v2": ["production"], "v1": ["staging"]}

    latest = opik_client.create_prompt("envs", "c")
    assert latest.version == "v3" and not latest.environments
    assert opik_client.get_prompt("envs", environment="production", no_cache=True).version == "v2"

    opik_client.set_prompt_environments("envs", [], version="v2")
    assert opik_client.get_prompt("envs", environment="production", no_cache=True) is None

    with pytest.raises(EnvironmentNotFoundError):
        opik_client.set_prompt_environments("envs", ["nowhere"])
    with pytest.raises(PromptNotFoundError):
        opik_client.set_prompt_environments("no-such-prompt", ["production"])


def test_environment_registry_crud(opik_client):
    names = [e.name for e in opik_client.get_environments()]
    assert {"development", "staging", "production"} <= set(names)

    created = opik_client.create_environment("canary", description="1% of traffic", color="#123")
    assert created.name == "canary" and created.description == "1% of traffic"
    with pytest.raises(EnvironmentAlreadyExists):
        opik_client.create_environment("canary")

    updated = opik_client.update_environment("canary", description="5% of traffic")
    assert updated.description == "5% of traffic" and updated.color == "#123"

    opik_client.create_prompt("canaried", "text")
    opik_client.set_prompt_environments("canaried", ["canary"])
    assert opik_client.get_prompt("canaried", environment="canary", no_cache=True) is not None

    opik_client.delete_environment("canary")
    assert "canary" not in [e.name for e in opik_client.get_environments()]
    assert opik_client.get_prompt("canaried", no_cache=True).environments in (None, [])


def test_a_version_created_with_environments_registers_and_owns_them(opik_client, opik_target):
    # The high-level SDK has no `environments` on create; `opik migrate` sends them through
    # the REST client, as here. Names of this test's own: a real Opik's workspace is shared.
    suffix = uuid.uuid4().hex[:8]
    prod, canary, name = f"prod-{suffix}", f"canary-{suffix}", f"born-owning-{suffix}"
    rest = opik_client.rest_client.prompts
    project = opik_target.project_name

    first = rest.create_prompt_version(
        name=name,
        version=PromptVersionDetail(template="one", environments=[prod, "staging"]),
        project_name=project,
    )

    assert sorted(first.environments) == sorted([prod, "staging"])
    assert {prod, "staging"} <= {e.name for e in opik_client.get_environments()}
    pinned = opik_client.get_prompt(name, environment=prod, no_cache=True)
    assert pinned.commit == first.commit and sorted(pinned.environments) == sorted(
        [prod, "staging"]
    )

    # A sibling asking for an environment the first one owns is refused: ownership moves
    # only through set_prompt_environments.
    with pytest.raises(ApiError) as refused:
        rest.create_prompt_version(
            name=name,
            version=PromptVersionDetail(template="two", environments=[prod, canary]),
            project_name=project,
        )
    assert refused.value.status_code == 409
    assert canary in {e.name for e in opik_client.get_environments()}  # registered all the same
    assert [p.version for p in opik_client.get_prompt_history(name)] == ["v1"]

    second = rest.create_prompt_version(
        name=name,
        version=PromptVersionDetail(template="two", environments=[canary]),
        project_name=project,
    )
    by_version = {p.version: sorted(p.environments) for p in opik_client.get_prompt_history(name)}
    assert second.version_number == "v2"
    assert by_version == {"v2": [canary], "v1": sorted([prod, "staging"])}


def test_a_failed_first_request_keeps_the_default_environments(opik_client):
    # The workspace's first request seeds the defaults, then fails: "production" exists.
    with pytest.raises(EnvironmentAlreadyExists):
        opik_client.create_environment("production")

    names = [e.name for e in opik_client.get_environments()]
    assert {"development", "staging", "production"} <= set(names)


def test_chat_prompt_with_multimodal_parts_round_trips(opik_client):
    created = opik_client.create_chat_prompt("chat", MESSAGES, metadata={"k": "v"})
    assert created.version == "v1" and created.template == MESSAGES

    # Same messages, serialised differently, are the same content for the SDK.
    reordered = [dict(reversed(list(m.items()))) for m in MESSAGES]
    assert opik_client.create_chat_prompt("chat", reordered, metadata={"k": "v"}).version == "v1"

    fetched = opik_client.get_chat_prompt("chat", no_cache=True)
    assert fetched.template == MESSAGES and fetched.commit == created.commit
    changed = opik_client.create_chat_prompt(
        "chat", [*MESSAGES, {"role": "assistant", "content": "ok"}]
    )
    assert changed.version == "v2"
    assert [p.version for p in opik_client.get_chat_prompt_history("chat")] == ["v2", "v1"]
    assert opik_client.get_chat_prompt("chat", version="v1", no_cache=True).template == MESSAGES


def test_text_and_chat_structures_do_not_mix(opik_client):
    opik_client.create_chat_prompt("a-chat", MESSAGES)
    opik_client.create_prompt("a-text", "plain")

    with pytest.raises(PromptTemplateStructureMismatch):
        opik_client.create_prompt("a-chat", "plain")
    with pytest.raises(PromptTemplateStructureMismatch):
        opik_client.create_chat_prompt("a-text", MESSAGES)
    with pytest.raises(PromptTemplateStructureMismatch):
        opik_client.get_prompt("a-chat", no_cache=True)
    with pytest.raises(PromptTemplateStructureMismatch):
        opik_client.get_chat_prompt("a-text", no_cache=True)
    with pytest.raises(PromptTemplateStructureMismatch):
        opik_client.get_prompt_history("a-chat")


def test_history_is_newest_first_across_pages(opik_client, opik_target):
    count = 105  # the SDK pages versions by 100
    for i in range(count):
        opik_client.create_prompt("long", f"version {i}")

    history = opik_client.get_prompt_history("long")

    assert [p.version for p in history] == [f"v{n}" for n in range(count, 0, -1)]
    assert history[0].prompt == f"version {count - 1}"
    if opik_target.is_emulator:
        pages = [
            r for r in opik_target.requests() if r.method == "GET" and r.path.endswith("/versions")
        ]
        assert len(pages) == 2


def test_history_search_and_filters(opik_client):
    v1 = opik_client.create_prompt("hist", "Greet the customer", metadata={"env": "prod"})
    v2 = opik_client.create_prompt("hist", "Bid farewell", metadata={"env": "dev"})
    prompts = opik_client.get_prompts_client()
    prompts.batch_update_prompt_version_tags([v1.version_id], tags=["stable", "reviewed"])
    prompts.batch_update_prompt_version_tags([v2.version_id], tags=["draft"])

    def versions(**kwargs):
        return [p.version for p in opik_client.get_prompt_history("hist", **kwargs)]

    assert versions(filter_string='tags contains "stable"') == ["v1"]
    assert versions(filter_string='metadata.env = "dev"') == ["v2"]
    assert versions(filter_string='template contains "customer"') == ["v1"]
    assert versions(search="farewell") == ["v2"]
    assert versions(filter_string='tags contains "nothing"') == []


def test_batch_update_version_tags_replaces_merges_and_clears(opik_client):
    v1 = opik_client.create_prompt("tagged", "one")
    v2 = opik_client.create_prompt("tagged", "two")
    prompts = opik_client.get_prompts_client()

    def tags():
        return {p.version: sorted(p.tags or []) for p in opik_client.get_prompt_history("tagged")}

    prompts.batch_update_prompt_version_tags([v1.version_id, v2.version_id], tags=["a"])
    assert tags() == {"v1": ["a"], "v2": ["a"]}
    prompts.batch_update_prompt_version_tags([v1.version_id], tags=["b"], merge=True)
    assert tags() == {"v1": ["a", "b"], "v2": ["a"]}
    prompts.batch_update_prompt_version_tags([v2.version_id], tags=None)
    assert tags()["v2"] == ["a"]
    prompts.batch_update_prompt_version_tags([v1.version_id], tags=["c"])
    assert tags()["v1"] == ["c"]
    prompts.batch_update_prompt_version_tags([v1.version_id], tags=[])
    assert tags()["v1"] == []


def test_search_prompts_with_filter_string(opik_client):
    opik_client.create_prompt("summary-short", "Summarise {{text}}", tags=["alpha"])
    opik_client.create_prompt("summary-long", "Summarise at length {{text}}", tags=["beta"])
    opik_client.create_chat_prompt("chatty", MESSAGES, tags=["alpha"])

    def names(filter_string=None):
        return sorted(p.name for p in opik_client.search_prompts(filter_string=filter_string))

    assert names() == ["chatty", "summary-long", "summary-short"]
    assert names('tags contains "alpha"') == ["chatty", "summary-short"]
    assert names('name starts_with "summary"') == ["summary-long", "summary-short"]
    assert names('template_structure = "chat"') == ["chatty"]
    assert names('name contains "long" AND tags contains "beta"') == ["summary-long"]
    chat = next(p for p in opik_client.search_prompts() if p.name == "chatty")
    assert isinstance(chat, opik.ChatPrompt) and chat.template == MESSAGES


def test_prompt_created_with_container_fields(opik_client):
    created = opik_client.create_prompt(
        "described",
        "Hello",
        description="A greeting",
        tags=["t1"],
        change_description="first cut",
    )
    assert created.version == "v1" and created.tags == ["t1"]
    detail = opik_client.rest_client.prompts.get_prompt_by_id(created.__internal_api__prompt_id__)
    assert detail.description == "A greeting" and detail.tags == ["t1"]
    assert detail.latest_version.change_description == "first cut"
    assert detail.latest_version.variables == [] and detail.version_count == 1


def test_delete_prompt_through_the_rest_client(opik_client):
    created = opik_client.create_prompt("doomed", "bye")
    prompt_id = created.__internal_api__prompt_id__

    opik_client.rest_client.prompts.delete_prompt(prompt_id)

    assert opik_client.get_prompt("doomed", no_cache=True) is None
    assert opik_client.get_prompt_history("doomed") == []
    with pytest.raises(ApiError) as error:
        opik_client.rest_client.prompts.delete_prompt(prompt_id)
    assert error.value.status_code == 404


@pytest.fixture
def projects(opik_target):
    """Two project names of this test's own (a real Opik's workspace is shared)."""
    return f"{opik_target.project_name}-a", f"{opik_target.project_name}-b"


def test_each_project_holds_its_own_prompt_of_a_name(opik_client, projects):
    a, b = projects
    opik_client.create_prompt("shared-name", "in project A", project_name=a)
    # A second container of the same name in B: POST /prompts, where the name is free in B.
    opik_client.rest_client.prompts.create_prompt(
        name="shared-name", template="in project B", project_name=b
    )

    in_a = opik_client.get_prompt("shared-name", project_name=a, no_cache=True)
    in_b = opik_client.get_prompt("shared-name", project_name=b, no_cache=True)
    assert (in_a.prompt, in_a.version, in_b.prompt, in_b.version) == (
        "in project A",
        "v1",
        "in project B",
        "v1",
    )
    assert in_a.__internal_api__prompt_id__ != in_b.__internal_api__prompt_id__
    assert opik_client.get_prompt_history("shared-name", project_name="unknown-project") == []


def test_a_prompt_read_in_a_project_without_it_is_found_in_another_project(opik_client, projects):
    a, b = projects
    created = opik_client.create_chat_prompt("asked-elsewhere", MESSAGES, project_name=a)
    opik_client.create_prompt("only-in-b", "B exists", project_name=b)

    # Opik retries the lookup without the project: it searches every project of the workspace.
    from_b = opik_client.get_chat_prompt("asked-elsewhere", project_name=b, no_cache=True)
    from_nowhere = opik_client.get_chat_prompt(
        "asked-elsewhere", project_name=f"{b}-never-created", no_cache=True
    )

    assert from_b.commit == created.commit and from_b.template == MESSAGES
    assert from_nowhere.commit == created.commit
    # The client's own project does not have it either, so a text read finds the chat prompt.
    with pytest.raises(PromptTemplateStructureMismatch):
        opik_client.get_prompt("asked-elsewhere", no_cache=True)


def test_a_version_written_for_a_project_without_the_prompt_lands_in_the_one_found(
    opik_client, projects
):
    a, b = projects
    first = opik_client.create_prompt("written-elsewhere", "one", project_name=a)

    # The SDK reads the latest version (found in A), sees new text, and writes for B: the
    # backend's getOrCreatePrompt finds A's prompt the same way and adds the version there.
    second = opik_client.create_prompt("written-elsewhere", "two", project_name=b)

    assert second.version == "v2"
    assert second.__internal_api__prompt_id__ == first.__internal_api__prompt_id__
    history = opik_client.get_prompt_history("written-elsewhere", project_name=a)
    assert [(p.version, p.prompt) for p in history] == [("v2", "two"), ("v1", "one")]
    assert opik_client.search_prompts(project_name=b) == []  # B exists now, and holds nothing


def test_two_workspaces_do_not_see_each_other(opik_client, opik_target):
    if not opik_target.is_emulator:
        pytest.skip("needs two workspaces; an external Opik is tested in one")
    opik_client.create_prompt("private", "workspace one")
    other = opik.Opik(
        host=opik_target.url,
        workspace=f"{opik_target.workspace}-other",
        project_name=opik_target.project_name,
    )
    try:
        assert other.get_prompt("private", no_cache=True) is None
        assert other.search_prompts() == []
        created = other.create_prompt("private", "workspace two")
        assert created.version == "v1"
    finally:
        other.end()
    assert opik_client.get_prompt("private", no_cache=True).prompt == "workspace one"


def test_a_wrong_api_key_is_refused_with_401(opik_target):
    if not opik_target.is_emulator:
        pytest.skip("starts its own emulator with an API key")
    with EmulatorServer(api_key="right-key") as server:
        wrong = opik.Opik(host=server.url, workspace="w", api_key="wrong-key", project_name="p")
        right = opik.Opik(host=server.url, workspace="w", api_key="right-key", project_name="p")
        try:
            with pytest.raises(ApiError) as error:
                wrong.create_prompt("locked", "text")
            assert error.value.status_code == 401
            assert right.create_prompt("locked", "text").version == "v1"
            right.auth_check()
        finally:
            wrong.end()
            right.end()
