"""The prompt library's state: one facade over projects, prompts, versions and environments.

Every method takes the workspace first: data is isolated per ``Comet-Workspace``. Methods
return JSON-ready dicts in the backend's DTO shapes (``None`` fields left out, as Jackson's
``NON_NULL`` does) and raise :class:`~opik_emulator.errors.OpikError` with the backend's status
codes. The routes (``routes.py``) only parse requests and serialise these results; the rules
live in one module per resource, which this class wires together on one database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opik_emulator.db import Database
from opik_emulator.environments import Environments
from opik_emulator.projects import Projects
from opik_emulator.prompts import Prompts
from opik_emulator.schema import SCHEMA
from opik_emulator.versions import Versions

Body = dict[str, Any]


class Store:
    """The emulator's backend state, persisted in SQLite (a file path or ``:memory:``).

    The resources are reachable as ``projects``, ``prompts``, ``versions`` and
    ``environments``; the evaluation side (:class:`~opik_emulator.evaluation.ExperimentStore`)
    shares ``db``.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.db = Database(path)
        self.db.executescript(SCHEMA)
        self.projects = Projects(self.db)
        self.environments = Environments(self.db)
        self.prompts = Prompts(self.db, self.projects, self.environments)
        self.versions = Versions(self.db, self.projects, self.prompts, self.environments)

    def close(self) -> None:
        self.db.close()

    # -- projects ------------------------------------------------------------------------------

    def list_projects(
        self, ws: str, page: int, size: int, name: str | None, sorting: str | None
    ) -> Body:
        return self.projects.listing(ws, page, size, name, sorting)

    def create_project(self, ws: str, body: Body) -> str:
        return self.projects.create(ws, body)

    def retrieve_project(self, ws: str, name: Any) -> Body:
        return self.projects.retrieve(ws, {"name": name})

    def get_project(self, ws: str, project_id: str) -> Body:
        return self.projects.get(ws, project_id)

    # -- prompts -------------------------------------------------------------------------------

    def list_prompts(self, ws: str, **query: Any) -> Body:
        """``page``, ``size``, ``name``, ``project_id``, ``filters``, ``sorting``."""
        return self.prompts.listing(ws, **query)

    def create_prompt(self, ws: str, body: Body) -> str:
        return self.prompts.create(ws, body)

    def get_prompt(
        self, ws: str, prompt_id: str, *, environment: str | None = None, mask_id: str | None = None
    ) -> Body:
        return self.prompts.detail(ws, prompt_id, environment=environment, mask_id=mask_id)

    def update_prompt(self, ws: str, prompt_id: str, body: Body) -> None:
        self.prompts.update(ws, prompt_id, body)

    def delete_prompt(self, ws: str, prompt_id: str) -> None:
        self.prompts.delete(ws, prompt_id)

    def delete_prompts(self, ws: str, ids: Any) -> None:
        self.prompts.delete_batch(ws, {"ids": ids})

    def prompt_by_commit(self, ws: str, commit: str) -> Body:
        return self.versions.prompt_by_commit(ws, commit)

    # -- versions ------------------------------------------------------------------------------

    def create_version(self, ws: str, body: Body) -> Body:
        return self.versions.create(ws, body)

    def retrieve_version(self, ws: str, body: Body) -> tuple[Body, bool]:
        """The version, and whether the asked project fell back to a workspace-wide search."""
        return self.versions.retrieve(ws, body)

    def get_version(self, ws: str, version_id: str) -> Body:
        return self.versions.get(ws, version_id)

    def list_versions(self, ws: str, prompt_id: str, **query: Any) -> Body:
        """``page``, ``size``, ``search``, ``filters``, ``sorting``."""
        return self.versions.listing(ws, prompt_id, **query)

    def update_versions(self, ws: str, body: Body) -> None:
        self.versions.update_tags(ws, body)

    def restore_version(self, ws: str, prompt_id: str, version_id: str) -> Body:
        return self.versions.restore(ws, prompt_id, version_id)

    def version_by_number(self, ws: str, prompt_id: str, number: str) -> Body:
        return self.versions.by_number(ws, prompt_id, number)

    def versions_by_commits(self, ws: str, commits: Any) -> list[Body]:
        return self.versions.links_by_commits(ws, {"commits": commits})

    def versions_by_ids(self, ws: str, ids: Any) -> list[Body]:
        return self.versions.by_ids(ws, {"ids": ids})

    def set_version_environments(self, ws: str, version_id: str, names: Any) -> None:
        self.versions.set_environments(ws, version_id, {"environments": names})

    # -- environments --------------------------------------------------------------------------

    def list_environments(self, ws: str) -> Body:
        return self.environments.listing(ws)

    def create_environment(self, ws: str, body: Body) -> str:
        return self.environments.create(ws, body)

    def get_environment(self, ws: str, env_id: str) -> Body:
        return self.environments.get(ws, env_id)

    def update_environment(self, ws: str, env_id: str, body: Body) -> None:
        self.environments.update(ws, env_id, body)

    def delete_environments(self, ws: str, ids: Any) -> None:
        self.environments.delete(ws, {"ids": ids})
