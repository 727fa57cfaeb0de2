"""Opik's prompt library in one project: reads, the cheap listing, writes, tags, environments.

Writes carry a client-chosen commit, so a create retried after a lost answer is recognised by
its commit instead of creating a second version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .errors import OpikError
from .models import RemotePrompt, RemoteVersion, TemplateStructure
from .transport import Transport

if TYPE_CHECKING:
    from opik.rest_api import OpikApi
    from opik.rest_api.types import PromptPagePublic

log = logging.getLogger(__name__)

# The SDK lists prompts 1,000 at a time; the backend accepts it.
_PROMPT_PAGE_SIZE = 1000
# Listings restarted because prompts were created or deleted meanwhile, before giving up.
_LISTING_ATTEMPTS = 3


class PromptLibrary:
    """The prompts of one Opik project."""

    def __init__(
        self, transport: Transport, project_name: str, project_id: Callable[[], str | None]
    ) -> None:
        self._transport = transport
        self._project_id = project_id
        self.project_name = project_name
        self.listing_page_size = _PROMPT_PAGE_SIZE

    @property
    def _rest(self) -> OpikApi:
        return self._transport.rest

    # Reads ---------------------------------------------------------------------------------

    def get_version(
        self, name: str, *, environment: str | None = None, commit: str | None = None
    ) -> RemoteVersion | None:
        """The prompt's latest version, or the one an environment points to, or the one with
        that commit; None if there is none."""
        try:
            version = self._transport.call(
                "read",
                self._rest.prompts.retrieve_prompt_version,
                name=name,
                environment=environment,
                commit=commit,
                project_name=self.project_name,
            )
        except OpikError as exc:
            if exc.status_code == 404:
                return None
            raise
        return RemoteVersion.from_rest(version)

    def list_prompts(self) -> dict[str, RemotePrompt]:
        """Every prompt of the project by name: the cheap change detection.

        The first page (``listing_page_size``, 1,000 rows) says how many follow; those are
        fetched side by side. Opik lists newest first, so a prompt created or deleted meanwhile
        shifts rows across page boundaries, and a row can slip between two pages read at
        different moments. A prompt missed that way leaves fewer distinct names than the first
        page's ``total`` (new prompts land on the first page, already read): the listing is then
        read again, one page after another, where only a deletion can hide a row. An
        environment move changes neither ``version_count`` nor ``last_updated_at``. A project
        that does not exist yet holds no prompts.
        """
        project_id = self._project_id()
        if project_id is None:
            return {}
        rest = self._rest  # one client for the pages: a client per thread costs an SSL context
        size = self.listing_page_size
        for attempt in range(_LISTING_ATTEMPTS):
            first = self._prompt_page(rest, project_id, 1, size)
            pages = [first]
            if first.total is None or attempt > 0:
                while len(pages[-1].content or []) == size:
                    pages.append(self._prompt_page(rest, project_id, len(pages) + 1, size))
            elif first.total > size:
                count = -(-first.total // size)
                workers = min(count - 1, self._transport.settings.max_concurrency)
                with ThreadPoolExecutor(workers, thread_name_prefix="prompt-sync-list") as pool:
                    pages += pool.map(
                        lambda page: self._prompt_page(rest, project_id, page, size),
                        range(2, count + 1),
                    )
            listed = {
                row.name: RemotePrompt.from_rest(row) for p in pages for row in p.content or []
            }
            if len(listed) >= (first.total or 0):
                return listed
            log.info("prompts moved between listing pages while they were read; listing again")
        raise OpikError(
            f"the prompts of project {self.project_name!r} changed faster than they could be "
            f"listed ({_LISTING_ATTEMPTS} attempts)"
        )

    def _prompt_page(
        self, rest: OpikApi, project_id: str, page: int, size: int
    ) -> PromptPagePublic:
        from opik.rest_api.types import PromptPagePublic

        params = {"page": page, "size": size, "project_id": project_id}
        return self._transport.get_model(
            "v1/private/prompts", PromptPagePublic, params=params, rest=rest
        )

    def newest_versions(self, prompt_id: str, count: int) -> list[RemoteVersion]:
        """The prompt's ``count`` newest versions, newest first, in one request."""
        result = self._transport.call(
            "read", self._rest.prompts.get_prompt_versions, prompt_id, page=1, size=count
        )
        return [RemoteVersion.from_rest(v, prompt_id) for v in result.content or []]

    def history(self, prompt_id: str) -> Iterator[RemoteVersion]:
        """Every version of a prompt, newest first, one page at a time (stop early to save reads)."""
        for version in self._transport.pages(self._rest.prompts.get_prompt_versions, prompt_id):
            yield RemoteVersion.from_rest(version, prompt_id)

    # Writes --------------------------------------------------------------------------------

    def create_version(
        self,
        name: str,
        *,
        template: str,
        template_type: str,
        structure: TemplateStructure,
        metadata: dict[str, Any],
        change_description: str,
        commit: str,
        new: bool = False,
    ) -> RemoteVersion:
        """A new version with the caller's ``commit`` (the id stays the server's, so "latest"
        follows Opik's clock): a create retried after a lost answer then
        meets a 409 on that commit, and the version it already made is returned instead of a
        duplicate; when every answer was lost, the commit is looked up before giving up.

        ``new``: the project has no prompt of that name yet. It is created here first, because
        Opik adds a version to another project's prompt of the same name when this project has
        none (its name fallback, on writes as on reads).
        """
        from opik.rest_api.types import PromptVersionDetail

        if new:
            self._create_prompt(name, structure)

        request = PromptVersionDetail(
            commit=commit,
            template=template,
            type=template_type,
            metadata=metadata,
            change_description=change_description,
        )
        try:
            created = self._transport.call(
                "write",
                self._rest.prompts.create_prompt_version,
                name=name,
                version=request,
                template_structure=structure,
                project_name=self.project_name,
            )
        except OpikError as exc:
            # 409: an earlier attempt saved it. No status or a 5xx: the answers were lost or
            # garbled, maybe after the save. Any other status is a refusal: nothing was saved.
            status = exc.status_code
            if not (status is None or status == 409 or status >= 500):
                raise
            existing = self._saved_by_lost_write(name, commit)
            if existing is None or (existing.template, existing.metadata) != (template, metadata):
                raise  # not saved, or a genuine clash with someone else's commit
            return existing
        return RemoteVersion.from_rest(created)

    def _create_prompt(self, name: str, structure: TemplateStructure) -> None:
        """An empty prompt in this project (``POST /prompts`` never falls back to another)."""
        try:
            self._transport.call(
                "write",
                self._rest.prompts.create_prompt,
                name=name,
                project_name=self.project_name,
                template_structure=structure,
            )
        except OpikError as exc:
            if exc.status_code != 409:  # 409: it exists (an earlier attempt whose answer was lost)
                raise

    def _saved_by_lost_write(self, name: str, commit: str) -> RemoteVersion | None:
        try:
            return self.get_version(name, commit=commit)
        except OpikError:
            return None  # still unreachable: report the write's own error

    def restore_version(self, prompt_id: str, version_id: str) -> RemoteVersion:
        """Opik's restore: a new latest version with an old version's content (and metadata)."""
        restored = self._transport.call(
            "write", self._rest.prompts.restore_prompt_version, prompt_id, version_id
        )
        return RemoteVersion.from_rest(restored, prompt_id)

    def add_tag(self, version_id: str, tag: str) -> None:
        """Merge one tag into the version's tags."""
        self._update_tags(version_id, [tag], merge=True)

    def set_tags(self, version_id: str, tags: list[str]) -> None:
        """Replace the version's tags."""
        self._update_tags(version_id, tags, merge=False)

    def _update_tags(self, version_id: str, tags: list[str], *, merge: bool) -> None:
        from opik.rest_api.types import PromptVersionUpdate

        self._transport.call(
            "write",
            self._rest.prompts.update_prompt_versions,
            ids=[version_id],
            update=PromptVersionUpdate(tags=tags),
            merge_tags=merge,
        )

    # Environments --------------------------------------------------------------------------

    def environment_names(self) -> list[str]:
        """The environments registered in the workspace (production, staging, ...)."""
        page = self._transport.call("read", self._rest.environments.find_environments)
        return [env.name for env in page.content or []]

    def set_environments(self, version_id: str, environments: list[str]) -> None:
        """Make ``environments`` the version's full set; each moves here from any other version
        of the same prompt (Opik's one owner per prompt and environment)."""
        self._transport.call(
            "write",
            self._rest.prompts.set_prompt_version_environment,
            version_id,
            environments=environments,
        )
