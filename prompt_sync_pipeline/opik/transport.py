"""How requests reach Opik: a REST client per worker thread, one pace for all of them, and
bounded retries tuned for a batch job.

The SDK's own retry wrapper sleeps 5-15 s per attempt and its prompt cache would hide Opik's
current state, so the SDK is used for its configuration, its HTTP client and its models only.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import tenacity
from pydantic import BaseModel

from . import sdk
from .errors import as_opik_error, short, status_of
from .settings import OpikSettings, RetrySettings

if TYPE_CHECKING:
    from opik.rest_api import OpikApi

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
RequestKind = Literal["read", "write"]

PAGE_SIZE = 100
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# Waits longer than this are worth a log line (once, with the duration); shorter ones are noise.
_NOTABLE_WAIT_SECONDS = 1.0


@dataclass
class RequestStats:
    """What a connection sent, for reports and benchmarks (counted from many threads)."""

    reads: int = 0
    writes: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: Literal["reads", "writes", "retries"]) -> None:
        with self._lock:
            setattr(self, kind, getattr(self, kind) + 1)


class RequestPacer:
    """Keeps one connection (all its worker threads) under a request rate: a token bucket holding
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


class Transport:
    """Paced, retried requests on a REST client per worker thread."""

    def __init__(self, settings: OpikSettings, connect: Callable[[], OpikApi]) -> None:
        self.settings = settings
        self.stats = RequestStats()
        self._connect = connect
        self._clients = {threading.current_thread().name: connect()}
        self._clients_lock = threading.Lock()
        self._pace = RequestPacer(settings.max_requests_per_minute)
        self._quiet_until = 0.0  # a wait already logged covers retries that start before then
        self._wait_lock = threading.Lock()

    @property
    def rest(self) -> OpikApi:
        """The calling worker's REST client. One httpx pool shared by every worker made them
        queue on its lock and scan its connections per request (``benchmarks/profile_client.py``).
        Keyed by thread name, which the worker pools reuse, so a run makes at most
        ``max_concurrency`` + 1 clients."""
        name = threading.current_thread().name
        rest = self._clients.get(name)
        if rest is None:
            built = self._connect()  # outside the lock: an SSL context takes a while
            with self._clients_lock:
                rest = self._clients.setdefault(name, built)
        return rest

    @property
    def url(self) -> str:
        return sdk.base_url(self.rest)

    def close(self) -> None:
        for rest in {id(r): r for r in self._clients.values()}.values():
            sdk.http_client(rest).close()

    def call(
        self,
        kind: RequestKind,
        method: Callable[..., Any],
        *args: Any,
        retry_if: Callable[[BaseException], bool] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``method(*args, **kwargs)``, paced, retried while transient; raises ``OpikError``."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.retries.attempts),
            wait=_Backoff(self.settings.retries),
            retry=tenacity.retry_if_exception(retry_if or is_transient),
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
            raise as_opik_error(exc, self.url) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def get_model(
        self, path: str, model: type[M], *, params: dict[str, Any], rest: OpikApi | None = None
    ) -> M:
        """A GET through the SDK's HTTP client, the answer validated with the SDK's pydantic
        model directly. The generated client first walks every field's type hints in Python,
        which costs more CPU than the request itself (``benchmarks/profile_client.py``)."""

        def get() -> M:
            response = sdk.send(rest or self.rest, "GET", path, params=params)
            return model.model_validate_json(response.content)

        return self.call("read", get)

    def pages(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        """The rows of a paged listing, read one page at a time (stop early to save reads).

        A row created while we page shifts the rest down by one, so the same row can show up on
        two pages: each is yielded once.
        """
        seen: set[str | None] = set()
        page = 1
        while True:
            result = self.call("read", method, *args, page=page, size=PAGE_SIZE, **kwargs)
            content = result.content or []
            for row in content:
                if row.id not in seen:
                    seen.add(row.id)
                    yield row
            if len(content) < PAGE_SIZE:
                return
            page += 1

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
            log.warning("Opik request failed (%s); waiting %.1fs before retrying", short(exc), wait)
        else:
            log.debug("Opik request failed (%s); retrying in %.2fs", short(exc), wait)


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


def is_transient(exc: BaseException) -> bool:
    import httpx

    if isinstance(exc, httpx.TransportError):  # refused, reset, dropped, timed out
        return True
    return status_of(exc) in _RETRYABLE_STATUS


def is_transient_but_no_timeout(exc: BaseException) -> bool:
    import httpx

    return is_transient(exc) and not isinstance(exc, httpx.TimeoutException)


def _retry_after(exc: BaseException | None) -> float | None:
    if status_of(exc) != 429:
        return None
    headers = getattr(exc, "headers", None) or {}
    raw = headers.get("retry-after") or headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None
