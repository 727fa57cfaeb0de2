"""The one module that talks to Opik.

It uses the SDK's own configuration, HTTP client (auth headers, gzip bodies) and generated REST
client, but not its prompt cache or its retry wrapper: reads must see Opik's current state, and
retries here are bounded and tuned for a batch job (the SDK's sleep 5-15 s per attempt).
Writes carry a client-generated version id, so a create retried after a lost response is
recognised by its commit instead of creating a second version.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import tenacity

from .config import OpikSettings, RetrySettings

if TYPE_CHECKING:
    from opik.rest_api import OpikApi

log = logging.getLogger(__name__)

TemplateStructure = Literal["text", "chat"]
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_PAGE_SIZE = 100
# The SDK lists prompts 1,000 at a time; the backend accepts it.
_PROMPT_PAGE_SIZE = 1000


class OpikError(Exception):
    """Opik refused a request or could not be reached; the message is the server's (no secrets)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class RemoteVersion:
    """One prompt version as Opik holds it."""

    id: str
    prompt_id: str
    commit: str
    version_number: str | None
    template: str
    type: str | None
    template_structure: str
    metadata: Any
    tags: list[str] = field(default_factory=list)
    created_by: str | None = None
    created_at: datetime | None = None

    @classmethod
    def from_rest(cls, version: Any, prompt_id: str | None = None) -> RemoteVersion:
        return cls(
            id=version.id,
            prompt_id=version.prompt_id or prompt_id or "",
            commit=version.commit,
            version_number=version.version_number,
            template=version.template,
            type=version.type,
            template_structure=version.template_structure or "text",
            metadata=version.metadata,
            tags=list(version.tags or []),
            created_by=version.created_by,
            created_at=version.created_at,
        )


@dataclass(frozen=True)
class RemotePrompt:
    """One prompt as the project's prompt listing shows it (no version content)."""

    id: str
    name: str
    template_structure: str
    version_count: int
    last_updated_at: datetime | None = None

    @classmethod
    def from_rest(cls, prompt: Any) -> RemotePrompt:
        return cls(
            id=prompt.id,
            name=prompt.name,
            template_structure=prompt.template_structure or "text",
            version_count=prompt.version_count or 0,
            last_updated_at=prompt.last_updated_at,
        )


@dataclass
class RequestStats:
    """What this gateway sent, for reports and benchmarks (counted from many threads)."""

    reads: int = 0
    writes: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: Literal["reads", "writes", "retries"]) -> None:
        with self._lock:
            setattr(self, kind, getattr(self, kind) + 1)


class OpikGateway:
    """Prompt reads and writes in one Opik project, with bounded retries."""

    def __init__(self, rest: OpikApi, settings: OpikSettings) -> None:
        self._rest = rest
        self.settings = settings
        self.project_name = settings.project_name
        self.stats = RequestStats()

    @classmethod
    def from_environment(
        cls,
        settings: OpikSettings,
        *,
        url: str | None = None,
        workspace: str | None = None,
        api_key: str | None = None,
    ) -> OpikGateway:
        """Connect with the SDK's own settings: OPIK_URL_OVERRIDE, OPIK_API_KEY, OPIK_WORKSPACE.

        Values given here win over the SDK's (the Dagster resource passes its fields); the ones
        left None still come from the SDK's variables and config file.
        """
        import httpx
        from opik import config as opik_config
        from opik import httpx_client
        from opik.rest_api import OpikApi

        overrides = {"url_override": url, "workspace": workspace, "api_key": api_key}
        sdk = opik_config.OpikConfig(**{k: v for k, v in overrides.items() if v})
        client = httpx_client.get(
            workspace=sdk.workspace,
            api_key=sdk.api_key,
            check_tls_certificate=sdk.check_tls_certificate,
            compress_json_requests=sdk.enable_json_request_compression,
        )
        client.timeout = httpx.Timeout(settings.timeout_seconds)
        return cls(OpikApi(base_url=sdk.url_override, httpx_client=client), settings)

    @property
    def url(self) -> str:
        return self._rest._client_wrapper.get_base_url()

    def close(self) -> None:
        self._rest._client_wrapper.httpx_client.httpx_client.close()

    def __enter__(self) -> OpikGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Reads ---------------------------------------------------------------------------------

    def get_version(
        self, name: str, *, environment: str | None = None, commit: str | None = None
    ) -> RemoteVersion | None:
        """The prompt's latest version, or the one an environment points to, or the one with
        that commit; None if there is none."""
        try:
            version = self._call(
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
        """Every prompt of the project by name, 1,000 per request: the cheap change detection.

        An environment move does not change a prompt's ``version_count`` or ``last_updated_at``.
        A project that does not exist yet holds no prompts.
        """
        try:
            project = self._call(
                "read", self._rest.projects.retrieve_project, name=self.project_name
            )
        except OpikError as exc:
            if exc.status_code == 404:
                return {}
            raise
        prompts: dict[str, RemotePrompt] = {}
        page = 1
        while True:
            result = self._call(
                "read",
                self._rest.prompts.get_prompts,
                page=page,
                size=_PROMPT_PAGE_SIZE,
                project_id=project.id,
            )
            content = result.content or []
            for row in content:
                prompts[row.name] = RemotePrompt.from_rest(row)
            if len(content) < _PROMPT_PAGE_SIZE:
                return prompts
            page += 1

    def history(self, prompt_id: str) -> Iterator[RemoteVersion]:
        """Every version of a prompt, newest first, one page at a time (stop early to save reads)."""
        for version in self._pages(self._rest.prompts.get_prompt_versions, prompt_id):
            yield RemoteVersion.from_rest(version, prompt_id)

    def experiments(self, prompt_id: str) -> Iterator[Any]:
        """Every experiment linked to any version of the prompt, newest first, 100 per page."""
        return self._pages(self._rest.experiments.find_experiments, prompt_id=prompt_id)

    def _pages(self, method: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """The rows of a paged listing, read one page at a time.

        A row created while we page shifts the rest down by one, so the same row can show up on
        two pages: each is yielded once.
        """
        seen: set[str | None] = set()
        page = 1
        while True:
            result = self._call("read", method, *args, page=page, size=_PAGE_SIZE, **kwargs)
            content = result.content or []
            for row in content:
                if row.id not in seen:
                    seen.add(row.id)
                    yield row
            if len(content) < _PAGE_SIZE:
                return
            page += 1

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
        commit: str | None = None,
    ) -> RemoteVersion:
        """A new version. It carries a commit chosen by the caller or here (the id stays the
        server's, so "latest" follows Opik's clock): a create retried after a lost answer then
        meets a 409 on that commit, and the version it already made is returned instead of a
        duplicate; when every answer was lost, the commit is looked up before giving up."""
        from opik.rest_api.types import PromptVersionDetail

        commit = commit or secrets.token_hex(4)
        request = PromptVersionDetail(
            commit=commit,
            template=template,
            type=template_type,
            metadata=metadata,
            change_description=change_description,
        )
        try:
            created = self._call(
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

    def _saved_by_lost_write(self, name: str, commit: str) -> RemoteVersion | None:
        try:
            return self.get_version(name, commit=commit)
        except OpikError:
            return None  # still unreachable: report the write's own error

    def restore_version(self, prompt_id: str, version_id: str) -> RemoteVersion:
        """Opik's restore: a new latest version with an old version's content (and metadata)."""
        restored = self._call(
            "write", self._rest.prompts.restore_prompt_version, prompt_id, version_id
        )
        return RemoteVersion.from_rest(restored, prompt_id)

    def add_tag(self, version_id: str, tag: str) -> None:
        from opik.rest_api.types import PromptVersionUpdate

        self._call(
            "write",
            self._rest.prompts.update_prompt_versions,
            ids=[version_id],
            update=PromptVersionUpdate(tags=[tag]),
            merge_tags=True,
        )

    # Transport -----------------------------------------------------------------------------

    def _call(self, kind: Literal["read", "write"], method: Any, *args: Any, **kwargs: Any) -> Any:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.retries.attempts),
            wait=_Backoff(self.settings.retries),
            retry=tenacity.retry_if_exception(_is_transient),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self.stats.count("reads" if kind == "read" else "writes")
                    return method(*args, **kwargs)
        except Exception as exc:
            raise _as_opik_error(exc, self.url) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        self.stats.count("retries")
        exc = state.outcome.exception() if state.outcome else None
        log.warning("Opik request failed (%s); retrying", _short(exc))


class _Backoff:
    """Exponential backoff with jitter; a 429's Retry-After is honoured up to a cap."""

    def __init__(self, settings: RetrySettings) -> None:
        self.settings = settings

    def __call__(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after(exc)
        if retry_after is not None:
            return min(retry_after, self.settings.max_retry_after_seconds)
        delay = self.settings.initial_backoff_seconds * 2 ** (state.attempt_number - 1)
        return min(delay, self.settings.max_backoff_seconds) * random.uniform(0.8, 1.2)


def _status(exc: BaseException | None) -> int | None:
    return getattr(exc, "status_code", None)


def _is_transient(exc: BaseException) -> bool:
    import httpx

    if isinstance(exc, httpx.TransportError):  # refused, reset, dropped, timed out
        return True
    return _status(exc) in _RETRYABLE_STATUS


def _retry_after(exc: BaseException | None) -> float | None:
    if _status(exc) != 429:
        return None
    headers = getattr(exc, "headers", None) or {}
    raw = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _as_opik_error(exc: Exception, url: str) -> OpikError:
    import httpx

    if isinstance(exc, OpikError):
        return exc
    if isinstance(exc, httpx.TransportError):
        return OpikError(f"Opik at {_redact(url)} is unreachable: {_short(exc)}")
    status = _status(exc)
    if status is not None:
        return OpikError(
            f"Opik answered {status}: {_server_message(getattr(exc, 'body', None))}", status
        )
    return OpikError(f"Opik request failed: {_short(exc)}")


def _redact(url: str) -> str:
    """The URL without any user:password part, which must never reach a log or a report."""
    return re.sub(r"//[^/@]*@", "//", url)


def _server_message(body: Any) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("errors"), list):
            return "; ".join(str(e) for e in body["errors"])
        if "message" in body:
            return str(body["message"])
    return str(body) if body else "no details"


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    status = _status(exc)
    if status is not None:
        return f"HTTP {status}"
    return f"{type(exc).__name__}: {_redact(str(exc))}" if str(exc) else type(exc).__name__
