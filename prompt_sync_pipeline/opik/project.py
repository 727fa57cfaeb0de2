"""A connection to one Opik project: its prompt library and its experiments, on one transport."""

from __future__ import annotations

from .errors import OpikError, OpikUnavailable, not_opik, redact, unavailable_reason
from .experiments import Experiments
from .prompts import PromptLibrary
from .settings import OpikSettings
from .transport import RequestStats, Transport, is_transient_but_no_timeout


class OpikProject:
    """Where a run reads and writes: ``prompts`` and ``experiments`` of ``settings.project_name``."""

    def __init__(self, transport: Transport, *, workspace: str = "default") -> None:
        self.transport = transport
        self.settings = transport.settings
        self.workspace = workspace  # the client sends it; here for messages and the state file
        self.project_name = self.settings.project_name
        self.prompts = PromptLibrary(transport, self.project_name, self._project_id)
        self.experiments = Experiments(transport)
        # The access check's lookup of the project, kept for the listing that follows it.
        self._checked_project: tuple[str | None] | None = None
        self.project_exists: bool | None = None  # known after check_access()

    @classmethod
    def connect(
        cls,
        settings: OpikSettings,
        *,
        url: str | None = None,
        workspace: str | None = None,
        api_key: str | None = None,
    ) -> OpikProject:
        """Connect with the SDK's own settings (``OPIK_URL_OVERRIDE``, ``OPIK_API_KEY``,
        ``OPIK_WORKSPACE``); values given here win (the Dagster resource passes its fields)."""
        from . import sdk

        connect, resolved_workspace = sdk.rest_factory(
            settings, url=url, workspace=workspace, api_key=api_key
        )
        return cls(Transport(settings, connect), workspace=resolved_workspace)

    @property
    def stats(self) -> RequestStats:
        return self.transport.stats

    @property
    def url(self) -> str:
        return self.transport.url

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> OpikProject:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def check_access(self) -> None:
        """One cheap request before the work: does the URL answer as Opik, with these credentials?

        The request is the project's lookup (``POST /v1/private/projects/retrieve``), which the
        prompt listing starts with anyway: the next listing reuses its answer, so the check
        costs a run nothing. Opik answers with the project, or a JSON 404 when the project
        doesn't exist yet; anything else is not Opik. Refusals and 5xx get the configured
        retries; a timeout does not (a server that doesn't answer in time won't do better for
        the run), so this takes at most ``timeout_seconds`` plus the backoff waits. Raises
        ``OpikUnavailable``.
        """
        url = redact(self.url)
        rest = self.transport.rest
        try:
            response = self.transport.call(
                "read",
                rest.projects.with_raw_response.retrieve_project,
                name=self.project_name,
                retry_if=is_transient_but_no_timeout,
            )
        except OpikError as exc:
            if exc.status_code == 404 and isinstance(getattr(exc.original, "body", None), dict):
                self._checked_project = (None,)  # Opik's answer: no such project yet
                self.project_exists = False
                return
            if exc.status_code is None and _is_validation_error(exc.original):
                raise OpikUnavailable(not_opik(url, None, "JSON of another shape")) from None
            raise OpikUnavailable(
                unavailable_reason(exc, url, self.settings, self.workspace), exc.status_code
            ) from None
        self._checked_project = (response.data.id,)
        self.project_exists = True

    def _project_id(self) -> str | None:
        """The project's id, None if it doesn't exist yet; the access check's answer once."""
        if self._checked_project is not None:
            (project_id,), self._checked_project = self._checked_project, None
            return project_id
        try:
            project = self.transport.call(
                "read", self.transport.rest.projects.retrieve_project, name=self.project_name
            )
        except OpikError as exc:
            if exc.status_code == 404:
                return None
            raise
        return project.id


def _is_validation_error(exc: BaseException | None) -> bool:
    import pydantic

    return isinstance(exc, pydantic.ValidationError)
