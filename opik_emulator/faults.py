"""Test-only fault injection and the request log, as an ASGI middleware.

Nothing here is part of Opik's API. Tests use it to script failures per route (a status N
times, a ``Retry-After``, a dropped connection, optionally after the write was committed so the
client loses the response of a successful request), to add latency, and to see which requests
the client really sent. It is reachable from Python (``EmulatorServer.faults`` / ``.requests``)
and over HTTP under ``/__emulator__`` (see ``admin.py``), so a subprocess server is
controllable too.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/__emulator__"
DEFAULT_WORKSPACE = "default"

_rule_ids = itertools.count(1)


@dataclass
class FaultRule:
    """A scripted failure for requests matching ``method`` and the ``path`` regex.

    ``path`` is searched (``re.search``) in the request path as sent, e.g.
    ``/api/v1/private/prompts/versions``; anchor it (``r"/prompts/versions$"``) to be exact.
    ``query``, when given, is searched the same way in the query string (e.g. ``r"\bpage=2\b"``).
    The rule fires for the next ``times`` matching requests (``None``: until removed). It
    answers ``status`` with ``body`` and ``headers``, or with ``drop=True`` closes the
    connection without a response. With ``after_commit=True`` the request is first handled
    normally (its write is committed) and only its response is replaced or dropped. With
    ``hold_ms`` the request is held that long, then handled normally (no fault answer): a slow
    write that another client's request can overtake.
    """

    path: str
    method: str | None = None
    query: str | None = None
    status: int = 503
    times: int | None = 1
    workspace: str | None = None
    drop: bool = False
    after_commit: bool = False
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hold_ms: float = 0
    id: int = field(default_factory=lambda: next(_rule_ids))
    hits: int = 0

    def __post_init__(self) -> None:
        self._pattern = re.compile(self.path)
        self._query_pattern = re.compile(self.query) if self.query is not None else None
        if self.method is not None:
            self.method = self.method.upper()

    def matches(self, method: str, path: str, workspace: str, query: str = "") -> bool:
        return (
            (self.method is None or self.method == method)
            and (self.workspace is None or self.workspace == workspace)
            and self._pattern.search(path) is not None
            and (self._query_pattern is None or self._query_pattern.search(query) is not None)
        )

    def response_body(self) -> bytes:
        if self.body is None:
            message = "Injected fault" if self.status >= 500 else "Injected error"
            return json.dumps({"code": self.status, "message": message}).encode()
        return self.body.encode() if isinstance(self.body, str) else json.dumps(self.body).encode()

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """A rule from its JSON form (the admin route); ``id`` and ``hits`` are not taken."""
        fields = (
            "path",
            "method",
            "query",
            "status",
            "times",
            "workspace",
            "drop",
            "after_commit",
            "hold_ms",
        )
        kwargs = {k: data[k] for k in (*fields, "body", "headers") if k in data}
        if not isinstance(kwargs.get("path"), str):
            raise ValueError("a fault rule needs a 'path' regex")
        return cls(**kwargs)


class Faults:
    """The scripted failures and the added latency; safe to change from any thread."""

    def __init__(self, latency_ms: float = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self.latency_ms = latency_ms

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def inject(self, path: str, method: str | None = None, **options: Any) -> FaultRule:
        """Shorthand for ``add(FaultRule(path, method, **options))``."""
        return self.add(FaultRule(path=path, method=method, **options))

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def remove(self, rule_id: int) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r.id != rule_id]

    def clear(self) -> None:
        """Remove every rule (the latency stays)."""
        with self._lock:
            self._rules.clear()

    def reset(self) -> None:
        """Remove every rule and the added latency."""
        with self._lock:
            self._rules.clear()
            self.latency_ms = 0

    def take(self, method: str, path: str, workspace: str, query: str = "") -> FaultRule | None:
        """The first rule matching this request, spending one of its ``times``."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, workspace, query):
                    rule.hits += 1
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self._rules.remove(rule)
                    return rule
        return None


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator received. ``status`` is None when the connection was dropped."""

    method: str
    path: str
    query: str
    status: int | None
    workspace: str
    timestamp: str
    duration_ms: float
    fault: int | None = None  # id of the FaultRule that answered, if any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """The last ``capacity`` requests, oldest first; safe to use from any thread."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=capacity)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self, workspace: str | None = None) -> list[RequestRecord]:
        with self._lock:
            return [r for r in self._records if workspace is None or r.workspace == workspace]

    def clear(self, workspace: str | None = None) -> None:
        with self._lock:
            if workspace is None:
                self._records.clear()
            else:
                kept = [r for r in self._records if r.workspace != workspace]
                self._records.clear()
                self._records.extend(kept)


def workspace_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"comet-workspace":
            return value.decode("latin-1") or DEFAULT_WORKSPACE
    return DEFAULT_WORKSPACE


class FaultMiddleware:
    """Applies latency and fault rules to every non-admin request, and logs it.

    It must be the outermost ASGI layer, right under the server, so that dropping a connection
    reaches the server's transport and nothing else turns it into a 500.
    """

    def __init__(self, app: ASGIApp, faults: Faults, log: RequestLog) -> None:
        self.app = app
        self.faults = faults
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method, path, workspace = scope["method"], scope["path"], workspace_of(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        status: int | None = None

        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        rule = self.faults.take(method, path, workspace, query)
        answering = rule
        if rule is not None and rule.hold_ms > 0:
            await asyncio.sleep(rule.hold_ms / 1000)
            answering = None  # held, then handled as usual
        try:
            if answering is not None and answering.after_commit:
                # Run the request for real (so its write commits) but swallow the answer.
                async def discard(message: Message) -> None:
                    return None

                await self.app(scope, receive, discard)
            if answering is None:

                async def capture(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)

                await self.app(scope, receive, capture)
            elif answering.drop:
                if not answering.after_commit:
                    await _drain(receive)
                await _drop_connection(send)
            else:
                status = answering.status
                await _send_fault(send, answering)
        finally:
            self.log.add(
                RequestRecord(
                    method=method,
                    path=path,
                    query=query,
                    status=status,
                    workspace=workspace,
                    timestamp=datetime.now(UTC).isoformat(),
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    fault=None if rule is None else rule.id,
                )
            )


async def _send_fault(send: Send, rule: FaultRule) -> None:
    body = rule.response_body()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), str(v).encode()) for k, v in rule.headers.items()]
    await send({"type": "http.response.start", "status": rule.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive) -> None:
    """Read the request body: closing a socket with unread input makes the kernel answer with
    a reset (the client sees ``ReadError``) instead of an orderly close (``RemoteProtocolError``)."""
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _drop_connection(send: Send) -> None:
    """Close the TCP connection without answering, so the client sees a protocol error.

    ASGI has no "abort" message, and raising before the response starts makes uvicorn answer
    500. Uvicorn's ``send`` is a method of its request cycle, which holds the transport: close
    that and mark the cycle disconnected so uvicorn sends nothing more. Under another server
    this falls back to an exception (the server then decides what the client sees).
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("fault injection: connection dropped")
    transport.close()
    cycle.disconnected = True  # type: ignore[union-attr]


def records_as_dicts(records: Iterable[RequestRecord]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in records]
