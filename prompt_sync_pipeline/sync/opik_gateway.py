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
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import tenacity

from .config import OpikSettings, RetrySettings

if TYPE_CHECKING:
    from opik.rest_api import OpikApi
    from opik.rest_api.types import PromptPagePublic

log = logging.getLogger(__name__)
T = TypeVar("T")

TemplateStructure = Literal["text", "chat"]
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_PAGE_SIZE = 100
# The SDK lists prompts 1,000 at a time; the backend accepts it.
_PROMPT_PAGE_SIZE = 1000
# Listings restarted because prompts were created or deleted meanwhile, before giving up.
_LISTING_ATTEMPTS = 3
# Waits longer than this are worth a log line (once, with the duration); shorter ones are noise.
_NOTABLE_WAIT_SECONDS = 1.0
_OPIK_VARIABLES = "OPIK_URL_OVERRIDE, OPIK_API_KEY and OPIK_WORKSPACE"


class OpikError(Exception):
    """Opik refused a request or could not be reached; the message is the server's (no secrets)."""

    def __init__(
        self, message: str, status_code: int | None = None, original: BaseException | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.original = original  # the transport's or SDK's exception, to tell causes apart


class OpikUnavailable(OpikError):
    """Opik can't be used at all (unreachable, too slow, not Opik, credentials refused): the run
    stops before doing anything, with one message naming the URL and the variables to check."""


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
    environments: tuple[str, ...] = ()  # the environments (e.g. production) it holds now

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
            environments=tuple(getattr(version, "environments", None) or ()),
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


class RequestPacer:
    """Keeps one gateway (all its worker threads) under a request rate: a token bucket holding
    one second's worth of requests, so short runs never wait and long ones pace themselves
    instead of collecting 429s. ``None``: no limit (a self-hosted Opik)."""

    def __init__(
        self,
        per_minute: int | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._burst = max(1.0, (per_minute or 0) / 60)
        self._tokens = self._burst
        self._clock, self._sleep = clock, sleep
        self._updated = clock()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) / self._interval)
            self._updated = now
            self._tokens -= 1  # may go negative: later callers queue behind this one
            delay = -self._tokens * self._interval if self._tokens < 0 else 0.0
        if delay:
            self._sleep(delay)


class OpikGateway:
    """Prompt reads and writes in one Opik project, with bounded retries."""

    def __init__(
        self,
        rest: OpikApi,
        settings: OpikSettings,
        *,
        workspace: str = "default",
        connect: Callable[[], OpikApi] | None = None,
    ) -> None:
        self._connect = connect
        self._clients = {threading.current_thread().name: rest}
        self._clients_lock = threading.Lock()
        self.settings = settings
        self.workspace = workspace  # the client sends it; here for messages and the state file
        self.project_name = settings.project_name
        self.stats = RequestStats()
        self._quiet_until = 0.0  # a wait already logged covers retries that start before then
        self._wait_lock = threading.Lock()
        self._pace = RequestPacer(settings.max_requests_per_minute)
        self.listing_page_size = _PROMPT_PAGE_SIZE
        # The access check's lookup of the project, kept for the listing that follows it.
        self._checked_project: tuple[str | None] | None = None

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

        def connect() -> OpikApi:
            client = httpx_client.get(
                workspace=sdk.workspace,
                api_key=sdk.api_key,
                check_tls_certificate=sdk.check_tls_certificate,
                compress_json_requests=sdk.enable_json_request_compression,
            )
            client.timeout = httpx.Timeout(settings.timeout_seconds)
            return OpikApi(base_url=sdk.url_override, httpx_client=client)

        return cls(connect(), settings, workspace=sdk.workspace, connect=connect)

    @property
    def _rest(self) -> OpikApi:
        """The calling worker's REST client, built with the SDK's own settings. One httpx pool
        shared by every worker made them queue on its lock and scan its connections per request
        (``benchmarks/profile_client.py``). Keyed by thread name, which the engine's pools reuse,
        so a run makes at most ``max_concurrency`` + 1 clients; a shared one is still correct."""
        name = threading.current_thread().name
        rest = self._clients.get(name)
        if rest is None:
            # Built outside the lock (an SSL context takes a while); each thread builds its own.
            built = self._connect() if self._connect else next(iter(self._clients.values()))
            with self._clients_lock:
                rest = self._clients.setdefault(name, built)
        return rest

    @property
    def url(self) -> str:
        return self._rest._client_wrapper.get_base_url()

    def close(self) -> None:
        for rest in {id(r): r for r in self._clients.values()}.values():
            rest._client_wrapper.httpx_client.httpx_client.close()

    def __enter__(self) -> OpikGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def check_access(self) -> None:
        """One cheap request before the work: does the URL answer as Opik, with these credentials?

        The request is the project's lookup (``POST /v1/private/projects/retrieve``), which the
        prompt listing starts with anyway: the next ``list_prompts`` reuses its answer, so the
        check costs a run nothing. Opik answers with the project, or a JSON 404 when the project
        doesn't exist yet; anything else is not Opik. Refusals and 5xx get the configured retries;
        a timeout does not (a server that doesn't answer in time won't do better for the run),
        so this takes at most ``timeout_seconds`` plus the backoff waits. Raises
        ``OpikUnavailable``.
        """
        url = _redact(self.url)
        try:
            response = self._call(
                "read",
                self._rest.projects.with_raw_response.retrieve_project,
                name=self.project_name,
                retry_if=_is_transient_but_no_timeout,
            )
        except OpikError as exc:
            if exc.status_code == 404 and isinstance(getattr(exc.original, "body", None), dict):
                self._checked_project = (None,)  # Opik's answer: no such project yet
                return
            if exc.status_code is None and _is_validation_error(exc.original):
                raise OpikUnavailable(_not_opik(url, None, "JSON of another shape")) from None
            raise OpikUnavailable(
                _unavailable_reason(exc, url, self.settings, self.workspace), exc.status_code
            ) from None
        self._checked_project = (response.data.id,)

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
                workers = min(count - 1, self.settings.max_concurrency)
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
        return self._call(
            "read",
            self._request_model,
            "GET",
            "v1/private/prompts",
            PromptPagePublic,
            params=params,
            rest=rest,
        )

    def _project_id(self) -> str | None:
        """The project's id, None if it doesn't exist yet; the access check's answer once."""
        if self._checked_project is not None:
            (project_id,), self._checked_project = self._checked_project, None
            return project_id
        try:
            project = self._call(
                "read", self._rest.projects.retrieve_project, name=self.project_name
            )
        except OpikError as exc:
            if exc.status_code == 404:
                return None
            raise
        return project.id

    def newest_versions(self, prompt_id: str, count: int) -> list[RemoteVersion]:
        """The prompt's ``count`` newest versions, newest first, in one request."""
        result = self._call(
            "read", self._rest.prompts.get_prompt_versions, prompt_id, page=1, size=count
        )
        return [RemoteVersion.from_rest(v, prompt_id) for v in result.content or []]

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

    def environment_names(self) -> list[str]:
        """The environments registered in the workspace (production, staging, ...)."""
        page = self._call("read", self._rest.environments.find_environments)
        return [env.name for env in page.content or []]

    def set_environments(self, version_id: str, environments: list[str]) -> None:
        """Make ``environments`` the version's full set; each moves here from any other version
        of the same prompt (Opik's one owner per prompt and environment)."""
        self._call(
            "write",
            self._rest.prompts.set_prompt_version_environment,
            version_id,
            environments=environments,
        )

    def set_tags(self, version_id: str, tags: list[str]) -> None:
        """Replace the version's tags (``add_tag`` merges one in)."""
        from opik.rest_api.types import PromptVersionUpdate

        self._call(
            "write",
            self._rest.prompts.update_prompt_versions,
            ids=[version_id],
            update=PromptVersionUpdate(tags=tags),
            merge_tags=False,
        )

    # Transport -----------------------------------------------------------------------------

    def _request_model(
        self,
        method: str,
        path: str,
        model: type[T],
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        rest: OpikApi | None = None,
    ) -> T:
        """A request through the SDK's own HTTP client (its auth, headers, gzip, base URL), the
        answer validated with the SDK's pydantic model directly. The generated client first walks
        every field's type hints in Python, which costs more CPU than the request itself
        (``benchmarks/profile_client.py``); the wire names equal the field names here."""
        from opik.rest_api.core.api_error import ApiError

        response = (rest or self._rest)._client_wrapper.httpx_client.request(
            path,
            method=method,
            params=params,
            json=json,
            headers={"content-type": "application/json"} if json is not None else None,
        )
        if not 200 <= response.status_code < 300:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise ApiError(
                status_code=response.status_code, headers=dict(response.headers), body=body
            )
        return model.model_validate_json(response.content)  # type: ignore[attr-defined]

    def _call(
        self,
        kind: Literal["read", "write"],
        method: Any,
        *args: Any,
        retry_if: Callable[[BaseException], bool] | None = None,
        **kwargs: Any,
    ) -> Any:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.retries.attempts),
            wait=_Backoff(self.settings.retries),
            retry=tenacity.retry_if_exception(retry_if or _is_transient),
            before_sleep=self._count_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    self._pace.wait()
                    self.stats.count("reads" if kind == "read" else "writes")
                    return method(*args, **kwargs)
        except Exception as exc:
            error = _as_opik_error(exc, self.url)
            error.original = error.original or exc
            raise error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        self.stats.count("retries")
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        now = time.monotonic()
        with self._wait_lock:
            # Many prompts hit the same outage at once: one line covers the concurrent waits.
            notable = wait > _NOTABLE_WAIT_SECONDS and now >= self._quiet_until
            if notable:
                self._quiet_until = now + wait
        if notable:
            log.warning(
                "Opik request failed (%s); waiting %.1fs before retrying", _short(exc), wait
            )
        else:
            log.debug("Opik request failed (%s); retrying in %.2fs", _short(exc), wait)


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


def _is_transient_but_no_timeout(exc: BaseException) -> bool:
    import httpx

    return _is_transient(exc) and not isinstance(exc, httpx.TimeoutException)


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


def _unavailable_reason(
    exc: OpikError, url: str, settings: OpikSettings, workspace: str | None
) -> str:
    """Why Opik can't be used, and what to check; names the URL and variables, never the key."""
    import httpx

    attempts = settings.retries.attempts
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    original = exc.original
    if isinstance(original, httpx.TimeoutException):
        return (
            f"Opik at {url} did not answer within {settings.timeout_seconds:g}s. Check "
            f"that OPIK_URL_OVERRIDE points at a running Opik, or raise opik.timeout_seconds "
            f"in the configuration. (Variables: {_OPIK_VARIABLES}.)"
        )
    if isinstance(original, httpx.TransportError):
        return (
            f"Opik at {url} is unreachable ({_short(original)}){tries}. Check that Opik is "
            f"running and that OPIK_URL_OVERRIDE is its REST API base, e.g. "
            f"http://HOST:5173/api. (Variables: {_OPIK_VARIABLES}.)"
        )
    if exc.status_code in (401, 403):
        where = f" for workspace {workspace!r}" if workspace else ""
        return (
            f"Opik at {url} refused the credentials{where} ({exc}). Check OPIK_API_KEY and "
            f"OPIK_WORKSPACE (and that OPIK_URL_OVERRIDE is the right Opik). "
            f"(Variables: {_OPIK_VARIABLES}.)"
        )
    body = getattr(original, "body", None)
    if isinstance(body, str) or exc.status_code in (404, 405):
        # A body that isn't JSON, or no such endpoint: some other server, or a wrong path.
        return _not_opik(url, exc.status_code, _body_kind(original))
    if exc.status_code is not None and exc.status_code >= 500:
        return f"Opik at {url} fails ({exc}){tries}. Check Opik's health and its logs."
    return f"Opik at {url} refused the access check ({exc}). Check {_OPIK_VARIABLES}."


def _body_kind(original: BaseException | None) -> str:
    headers = getattr(original, "headers", None) or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    body = getattr(original, "body", None)
    if "html" in content_type or (isinstance(body, str) and body.lstrip().startswith("<")):
        return "an HTML page"
    if isinstance(body, str):
        return f"a {content_type.split(';')[0] or 'non-JSON'} body"
    return "an error: no such endpoint"


def _not_opik(url: str, status: int | None, kind: str) -> str:
    answer = f"answered {status} with {kind}" if status else f"answered with {kind}"
    return (
        f"{url} does not answer as Opik ({answer}). Check OPIK_URL_OVERRIDE: it must be Opik's "
        f"REST API base, e.g. http://HOST:5173/api or https://www.comet.com/opik/api. "
        f"(Variables: {_OPIK_VARIABLES}.)"
    )


def _is_validation_error(exc: BaseException | None) -> bool:
    import pydantic

    return isinstance(exc, pydantic.ValidationError)


def _redact(url: str) -> str:
    """The URL without any user:password part, which must never reach a log or a report."""
    return re.sub(r"//[^/@]*@", "//", url)


def _server_message(body: Any) -> str:
    if isinstance(body, dict):
        if isinstance(body.get("errors"), list):
            return "; ".join(str(e) for e in body["errors"])
        if "message" in body:
            return str(body["message"])
    if isinstance(body, str):
        # Not Opik's JSON: a proxy's or web server's page, which must not flood the report.
        if body.lstrip().startswith("<"):
            return "an HTML page, not Opik's API (check OPIK_URL_OVERRIDE)"
        first_line = body.strip().splitlines()[0] if body.strip() else ""
        return first_line[:200] or "no details"
    return str(body) if body else "no details"


def _short(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    status = _status(exc)
    if status is not None:
        return f"HTTP {status}"
    return f"{type(exc).__name__}: {_redact(str(exc))}" if str(exc) else type(exc).__name__
