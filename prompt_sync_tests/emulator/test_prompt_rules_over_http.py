"""The newest backend's prompt rules over raw HTTP: what a client other than the SDK sees.

- A prompt read by name in a project that does not have it is looked up again in every
  project of the workspace (``PromptServiceImpl.findByName``); when the asked project exists,
  the answer carries ``X-Opik-Deprecation``. A version written for such a project lands in
  the prompt that lookup finds.
- ``version.environments`` on create (``POST /prompts/versions``): names the workspace does not
  know are registered, the new version owns them and the answer lists them; a name a sibling
  version already owns refuses the create with 409 (``createVersionWithEnvironment``).

These pass against a real Opik too (``PROMPT_SYNC_TEST_OPIK_URL``).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

RETRIEVE = "/v1/private/prompts/versions/retrieve"
CREATE = "/v1/private/prompts/versions"
DEPRECATION = "X-Opik-Deprecation"
CHAT = '[{"role": "system", "content": "Be {{tone}}"}]'


@pytest.fixture
def http(opik_target):
    """Plain httpx on the API base, with this test's workspace (and key, if any)."""
    headers = {"Comet-Workspace": opik_target.workspace}
    if opik_target.api_key:
        headers["Authorization"] = opik_target.api_key
    with httpx.Client(base_url=opik_target.url, headers=headers) as client:
        yield client


@pytest.fixture
def names(opik_target):
    """A prompt name and two project names of this test's own."""
    suffix = uuid.uuid4().hex[:8]
    return f"x-{suffix}", f"{opik_target.project_name}-a", f"{opik_target.project_name}-b"


def _create(http, name, template, project, **fields):
    version = {"template": template, **fields.pop("version", {})}
    body = {"name": name, "version": version, "project_name": project, **fields}
    response = http.post(CREATE, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_read_in_an_existing_project_without_the_prompt_answers_with_a_deprecation(http, names):
    name, a, b = names
    created = _create(http, name, CHAT, a, template_structure="chat")
    _create(http, f"{name}-other", "B exists", b)

    response = http.post(RETRIEVE, json={"name": name, "project_name": b})

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["template_structure"] == "chat"
    assert response.headers[DEPRECATION] == (
        f"Prompt '{name}' was found via workspace-wide search. In a future version, you will"
        " need to specify the project explicitly."
    )


def test_a_read_in_an_unknown_project_or_none_searches_every_project_quietly(http, names):
    name, a, _ = names
    created = _create(http, name, "in A", a)

    for body in ({"name": name, "project_name": f"{a}-never-created"}, {"name": name}):
        response = http.post(RETRIEVE, json=body)
        assert response.status_code == 200
        assert response.json()["id"] == created["id"]
        assert DEPRECATION not in response.headers

    own = http.post(RETRIEVE, json={"name": name, "project_name": a})
    assert own.status_code == 200 and DEPRECATION not in own.headers
    missing = http.post(RETRIEVE, json={"name": f"{name}-missing", "project_name": a})
    assert missing.status_code == 404


def test_a_version_written_for_a_project_without_the_prompt_joins_the_prompt_found(http, names):
    name, a, b = names
    first = _create(http, name, "one", a)

    second = http.post(
        CREATE, json={"name": name, "version": {"template": "two"}, "project_name": b}
    )

    assert second.status_code == 200
    assert second.json()["prompt_id"] == first["prompt_id"]
    assert second.json()["version_number"] == "v2"
    assert DEPRECATION not in second.headers  # the write path falls back silently
    # The project is created all the same (getOrCreate runs before the lookup)...
    project = http.post("/v1/private/projects/retrieve", json={"name": b})
    assert project.status_code == 200
    # ...and holds no prompt: the version went to A's.
    listing = http.get("/v1/private/prompts", params={"project_id": project.json()["id"]})
    assert listing.json()["total"] == 0


def _environment_names(http):
    return {e["name"] for e in http.get("/v1/private/environments").json()["content"]}


def test_a_version_created_with_unknown_environments_registers_and_owns_them(http, names):
    name, a, _ = names
    env = f"prod-{name[2:]}"

    created = _create(http, name, "b", a, version={"environments": [env]})

    assert created["environments"] == [env]
    assert env in _environment_names(http)
    registered = next(
        e for e in http.get("/v1/private/environments").json()["content"] if e["name"] == env
    )
    assert registered["color"] and registered["position"] == 0  # the backend's auto-registration
    pinned = http.post(RETRIEVE, json={"name": name, "project_name": a, "environment": env})
    assert pinned.status_code == 200 and pinned.json()["id"] == created["id"]


def test_an_environment_a_sibling_owns_refuses_the_create_but_stays_registered(http, names):
    name, a, _ = names
    env, other = f"prod-{name[2:]}", f"canary-{name[2:]}"
    first = _create(http, name, "one", a, version={"environments": [env]})

    body = {"name": name, "version": {"template": "two", "environments": [other, env]}}
    refused = http.post(CREATE, json={**body, "project_name": a})

    assert refused.status_code == 409
    assert refused.json() == {
        "code": 409,
        "message": f"Environments already mapped to another version: '[{env}]'",
    }
    assert other in _environment_names(http)  # registered before the version was refused
    versions = http.get(f"/v1/private/prompts/{first['prompt_id']}/versions").json()
    assert [(v["version_number"], v["environments"]) for v in versions["content"]] == [
        ("v1", [env])
    ]


def test_invalid_environments_on_create_are_unprocessable(http, names):
    name, a, _ = names
    for version in (
        {"template": "t", "environments": ["not a name"]},
        {"template": "t", "environments": [f"e{i}" for i in range(101)]},
        {"template": "t", "environments": ["production"], "version_type": "mask"},
    ):
        response = http.post(CREATE, json={"name": name, "version": version, "project_name": a})
        assert response.status_code == 422, version
        assert "errors" in response.json()
