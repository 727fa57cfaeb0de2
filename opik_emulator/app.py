"""The emulator's ASGI application: Opik's routes under ``/api`` (and at the root), the
admin routes under ``/__emulator__``, all behind the fault-injection middleware."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from opik_emulator import admin, experiment_routes, routes
from opik_emulator.evaluation import ExperimentStore
from opik_emulator.faults import FaultMiddleware, Faults, RequestLog
from opik_emulator.store import Store


async def ping(request: Request) -> Response:
    # `opik.configure` requires exactly this body; it stays open even with an API key.
    return JSONResponse({"healthy": True})


# The backend version the emulator stands for. The SDK gates features on it (e.g. parallel
# dataset uploads need 2.2.8), and this emulates the API of the SDK it is tested with.
EMULATED_VERSION = "2.2.122"


async def version(request: Request) -> Response:
    return JSONResponse({"version": EMULATED_VERSION})


async def http_error(request: Request, exc: Exception) -> Response:
    # Unknown paths and wrong methods, in Jersey's error shape rather than Starlette's text.
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return JSONResponse({"code": status, "message": f"HTTP {status}"}, status_code=status)


class Emulator:
    """The ASGI app with its parts reachable: ``store``, ``faults``, ``request_log``.

    The evaluation side (:class:`ExperimentStore`) shares ``store``'s database.
    """

    def __init__(
        self,
        store: Store,
        *,
        faults: Faults | None = None,
        request_log: RequestLog | None = None,
        api_key: str | None = None,
    ) -> None:
        self.store = store
        self.faults = faults or Faults()
        self.request_log = request_log or RequestLog()
        api: list[BaseRoute] = [
            Route("/is-alive/ping", ping, methods=["GET"]),
            Route("/is-alive/ver", version, methods=["GET"]),
            *routes.ROUTES,
            *experiment_routes.ROUTES,
        ]
        inner = Starlette(
            routes=[*admin.ROUTES, Mount("/api", routes=api), *api],
            exception_handlers={HTTPException: http_error},
        )
        inner.state.store = store
        inner.state.experiments = ExperimentStore(store)
        inner.state.faults = self.faults
        inner.state.request_log = self.request_log
        inner.state.api_key = api_key
        self._asgi = FaultMiddleware(inner, self.faults, self.request_log)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)


def create_app(
    db: str | Path = ":memory:",
    *,
    api_key: str | None = None,
    latency_ms: float = 0,
) -> Emulator:
    """An emulator app over a new :class:`Store` at ``db`` (a file path or ``:memory:``)."""
    return Emulator(Store(db), faults=Faults(latency_ms), api_key=api_key)
