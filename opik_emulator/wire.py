"""Request and response plumbing shared by the route modules.

Handles what the SDK's transport does to requests (gzip bodies, explicit nulls, the raw
``Authorization`` key, ``Comet-Workspace``) so route handlers only see a workspace and a dict.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from opik_emulator.errors import OpikError, bad_request
from opik_emulator.faults import DEFAULT_WORKSPACE

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Call:
    """What a route handler needs from a request."""

    request: Request
    workspace: str

    @property
    def state(self) -> Any:
        return self.request.app.state

    def query(self, name: str) -> str | None:
        value = self.request.query_params.get(name)
        return None if value is None or value == "" else value

    def query_int(self, name: str, default: int) -> int:
        value = self.query(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise bad_request(f"query param {name} must be a number") from None

    def path(self, name: str) -> str:
        return self.request.path_params[name]

    async def json(self) -> dict[str, Any]:
        """The JSON object body, inflated if gzipped. Null and absent are the same to callers."""
        raw = await self.request.body()
        encoding = self.request.headers.get("content-encoding", "").lower()
        if encoding == "gzip" or raw.startswith(_GZIP_MAGIC):
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error):
                raise bad_request("Unable to process JSON: invalid gzip body") from None
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise OpikError(400, "Unable to process JSON", detail=False) from None
        if not isinstance(body, dict):
            raise OpikError(400, "Unable to process JSON", detail=False)
        return body

    def created(self, new_id: str) -> Response:
        """201 with the ``Location`` of the new resource, as Opik answers a POST create."""
        base = str(self.request.url.replace(query="")).rstrip("/")
        return Response(status_code=201, headers={"Location": f"{base}/{new_id}"})


Handler = Callable[[Call], Awaitable[Response]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: API-key check, workspace, and OpikError → backend-shaped error."""

    async def run(request: Request) -> Response:
        workspace = request.headers.get("comet-workspace") or DEFAULT_WORKSPACE
        api_key = request.app.state.api_key
        try:
            if api_key is not None and request.headers.get("authorization") != api_key:
                raise OpikError(401, "User not allowed to access workspace!", detail=False)
            return await handler(Call(request, workspace))
        except OpikError as error:
            return JSONResponse(error.body(), status_code=error.status)

    run.__name__ = handler.__name__
    return run


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(body, status_code=status, headers=headers)


def no_content() -> Response:
    return Response(status_code=204)
