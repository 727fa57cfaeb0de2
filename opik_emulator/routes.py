"""Opik's prompt-library REST routes (``/v1/private/...``): auth, projects, prompts, versions,
environments. Thin: each handler parses the request and calls the :class:`Store`."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from opik_emulator.store import Store
from opik_emulator.wire import Call, endpoint, no_content, ok

DEPRECATION_HEADER = "X-Opik-Deprecation"


def _store(call: Call) -> Store:
    return call.state.store


# -- auth and projects ---------------------------------------------------------------------


@endpoint
async def check_access(call: Call) -> Response:
    return no_content()


@endpoint
async def workspace_name(call: Call) -> Response:
    return ok({"workspace_name": call.workspace})


@endpoint
async def find_projects(call: Call) -> Response:
    return ok(
        _store(call).list_projects(
            call.workspace,
            call.query_int("page", 1),
            call.query_int("size", 10),
            call.query("name"),
            call.query("sorting"),
        )
    )


@endpoint
async def create_project(call: Call) -> Response:
    return call.created(_store(call).create_project(call.workspace, await call.json()))


@endpoint
async def retrieve_project(call: Call) -> Response:
    body = await call.json()
    return ok(_store(call).retrieve_project(call.workspace, body.get("name")))


@endpoint
async def get_project(call: Call) -> Response:
    return ok(_store(call).get_project(call.workspace, call.path("id")))


# -- prompts -------------------------------------------------------------------------------


@endpoint
async def get_prompts(call: Call) -> Response:
    return ok(
        _store(call).list_prompts(
            call.workspace,
            page=call.query_int("page", 1),
            size=call.query_int("size", 10),
            name=call.query("name"),
            project_id=call.query("project_id"),
            filters=call.query("filters"),
            sorting=call.query("sorting"),
        )
    )


@endpoint
async def create_prompt(call: Call) -> Response:
    return call.created(_store(call).create_prompt(call.workspace, await call.json()))


@endpoint
async def get_prompt(call: Call) -> Response:
    return ok(
        _store(call).get_prompt(
            call.workspace,
            call.path("id"),
            environment=call.query("environment"),
            mask_id=call.query("mask_id"),
        )
    )


@endpoint
async def update_prompt(call: Call) -> Response:
    _store(call).update_prompt(call.workspace, call.path("id"), await call.json())
    return no_content()


@endpoint
async def delete_prompt(call: Call) -> Response:
    _store(call).delete_prompt(call.workspace, call.path("id"))
    return no_content()


@endpoint
async def delete_prompts(call: Call) -> Response:
    body = await call.json()
    _store(call).delete_prompts(call.workspace, body.get("ids"))
    return no_content()


@endpoint
async def get_prompt_by_commit(call: Call) -> Response:
    return ok(_store(call).prompt_by_commit(call.workspace, call.path("commit")))


@endpoint
async def retrieve_by_commits(call: Call) -> Response:
    body = await call.json()
    return ok(_store(call).versions_by_commits(call.workspace, body.get("commits")))


# -- versions ------------------------------------------------------------------------------


@endpoint
async def create_version(call: Call) -> Response:
    return ok(_store(call).create_version(call.workspace, await call.json()))


@endpoint
async def update_versions(call: Call) -> Response:
    _store(call).update_versions(call.workspace, await call.json())
    return no_content()


@endpoint
async def retrieve_version(call: Call) -> Response:
    body = await call.json()
    version, fell_back = _store(call).retrieve_version(call.workspace, body)
    headers = None
    if fell_back:
        headers = {
            DEPRECATION_HEADER: f"Prompt '{body['name']}' was found via workspace-wide search."
            " In a future version, you will need to specify the project explicitly."
        }
    return ok(version, headers=headers)


@endpoint
async def retrieve_versions_by_ids(call: Call) -> Response:
    body = await call.json()
    return ok(_store(call).versions_by_ids(call.workspace, body.get("ids")))


@endpoint
async def get_version(call: Call) -> Response:
    return ok(_store(call).get_version(call.workspace, call.path("version_id")))


@endpoint
async def get_versions(call: Call) -> Response:
    return ok(
        _store(call).list_versions(
            call.workspace,
            call.path("id"),
            page=call.query_int("page", 1),
            size=call.query_int("size", 10),
            search=call.query("search"),
            filters=call.query("filters"),
            sorting=call.query("sorting"),
        )
    )


@endpoint
async def get_version_by_number(call: Call) -> Response:
    return ok(
        _store(call).version_by_number(
            call.workspace, call.path("prompt_id"), call.path("version_number")
        )
    )


@endpoint
async def restore_version(call: Call) -> Response:
    return ok(
        _store(call).restore_version(
            call.workspace, call.path("prompt_id"), call.path("version_id")
        )
    )


@endpoint
async def set_version_environments(call: Call) -> Response:
    body = await call.json()
    _store(call).set_version_environments(
        call.workspace, call.path("version_id"), body.get("environments")
    )
    return no_content()


# -- environments --------------------------------------------------------------------------


@endpoint
async def find_environments(call: Call) -> Response:
    return ok(_store(call).list_environments(call.workspace))


@endpoint
async def create_environment(call: Call) -> Response:
    return call.created(_store(call).create_environment(call.workspace, await call.json()))


@endpoint
async def get_environment(call: Call) -> Response:
    return ok(_store(call).get_environment(call.workspace, call.path("id")))


@endpoint
async def update_environment(call: Call) -> Response:
    _store(call).update_environment(call.workspace, call.path("id"), await call.json())
    return no_content()


@endpoint
async def delete_environments(call: Call) -> Response:
    body = await call.json()
    _store(call).delete_environments(call.workspace, body.get("ids"))
    return no_content()


P = "/v1/private"

# Fixed paths before parameterised ones, so e.g. /prompts/versions is never read as an id.
ROUTES: list[BaseRoute] = [
    Route(f"{P}/auth", check_access, methods=["POST"]),
    Route(f"{P}/auth/workspace", workspace_name, methods=["GET"]),
    Route(f"{P}/projects", find_projects, methods=["GET"]),
    Route(f"{P}/projects", create_project, methods=["POST"]),
    Route(f"{P}/projects/retrieve", retrieve_project, methods=["POST"]),
    Route(f"{P}/projects/{{id}}", get_project, methods=["GET"]),
    Route(f"{P}/prompts", get_prompts, methods=["GET"]),
    Route(f"{P}/prompts", create_prompt, methods=["POST"]),
    Route(f"{P}/prompts/delete", delete_prompts, methods=["POST"]),
    Route(f"{P}/prompts/retrieve-by-commits", retrieve_by_commits, methods=["POST"]),
    Route(f"{P}/prompts/by-commit/{{commit}}", get_prompt_by_commit, methods=["GET"]),
    Route(f"{P}/prompts/versions", create_version, methods=["POST"]),
    Route(f"{P}/prompts/versions", update_versions, methods=["PATCH"]),
    Route(f"{P}/prompts/versions/retrieve", retrieve_version, methods=["POST"]),
    Route(f"{P}/prompts/versions/retrieve-by-ids", retrieve_versions_by_ids, methods=["POST"]),
    Route(f"{P}/prompts/versions/{{version_id}}", get_version, methods=["GET"]),
    Route(
        f"{P}/prompts/versions/{{version_id}}/environments",
        set_version_environments,
        methods=["PATCH"],
    ),
    Route(f"{P}/prompts/{{id}}", get_prompt, methods=["GET"]),
    Route(f"{P}/prompts/{{id}}", update_prompt, methods=["PUT"]),
    Route(f"{P}/prompts/{{id}}", delete_prompt, methods=["DELETE"]),
    Route(f"{P}/prompts/{{id}}/versions", get_versions, methods=["GET"]),
    Route(
        f"{P}/prompts/{{prompt_id}}/versions/by-number/{{version_number}}",
        get_version_by_number,
        methods=["GET"],
    ),
    Route(
        f"{P}/prompts/{{prompt_id}}/versions/{{version_id}}/restore",
        restore_version,
        methods=["POST"],
    ),
    Route(f"{P}/environments", find_environments, methods=["GET"]),
    Route(f"{P}/environments", create_environment, methods=["POST"]),
    Route(f"{P}/environments/delete", delete_environments, methods=["POST"]),
    Route(f"{P}/environments/{{id}}", get_environment, methods=["GET"]),
    Route(f"{P}/environments/{{id}}", update_environment, methods=["PATCH"]),
]
