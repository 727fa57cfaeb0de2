"""Test-control routes under ``/__emulator__``: not part of Opik's API.

- ``GET /__emulator__/requests[?workspace=W]`` → the request log; ``DELETE`` clears it.
- ``GET /__emulator__/faults`` → ``{"latency_ms": N, "rules": [...]}``.
- ``POST /__emulator__/faults`` with a :class:`FaultRule` as JSON → the stored rule.
- ``DELETE /__emulator__/faults`` → remove every rule; ``DELETE /__emulator__/faults/{id}``.
- ``PUT /__emulator__/latency`` with ``{"ms": N}``.
- ``POST /__emulator__/reset`` → no rules, no latency, empty log.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from opik_emulator.faults import ADMIN_PREFIX, FaultRule, Faults, RequestLog, records_as_dicts


def _faults(request: Request) -> Faults:
    return request.app.state.faults


def _log(request: Request) -> RequestLog:
    return request.app.state.request_log


async def get_requests(request: Request) -> Response:
    workspace = request.query_params.get("workspace")
    return JSONResponse(records_as_dicts(_log(request).records(workspace)))


async def clear_requests(request: Request) -> Response:
    _log(request).clear(request.query_params.get("workspace"))
    return Response(status_code=204)


async def get_faults(request: Request) -> Response:
    faults = _faults(request)
    return JSONResponse(
        {"latency_ms": faults.latency_ms, "rules": [r.to_dict() for r in faults.rules()]}
    )


async def add_fault(request: Request) -> Response:
    try:
        rule = FaultRule.from_dict(json.loads(await request.body()))
    except (ValueError, TypeError) as error:  # JSONDecodeError and bad regexes are ValueErrors
        return JSONResponse({"errors": [str(error)]}, status_code=400)
    return JSONResponse(_faults(request).add(rule).to_dict(), status_code=201)


async def clear_faults(request: Request) -> Response:
    _faults(request).clear()
    return Response(status_code=204)


async def remove_fault(request: Request) -> Response:
    _faults(request).remove(int(request.path_params["id"]))
    return Response(status_code=204)


async def set_latency(request: Request) -> Response:
    try:
        _faults(request).latency_ms = float(json.loads(await request.body())["ms"])
    except (ValueError, TypeError, KeyError):
        return JSONResponse({"errors": ['expected {"ms": <number>}']}, status_code=400)
    return Response(status_code=204)


async def reset(request: Request) -> Response:
    _faults(request).reset()
    _log(request).clear()
    return Response(status_code=204)


ROUTES: list[BaseRoute] = [
    Route(f"{ADMIN_PREFIX}/requests", get_requests, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/requests", clear_requests, methods=["DELETE"]),
    Route(f"{ADMIN_PREFIX}/faults", get_faults, methods=["GET"]),
    Route(f"{ADMIN_PREFIX}/faults", add_fault, methods=["POST"]),
    Route(f"{ADMIN_PREFIX}/faults", clear_faults, methods=["DELETE"]),
    Route(f"{ADMIN_PREFIX}/faults/{{id:int}}", remove_fault, methods=["DELETE"]),
    Route(f"{ADMIN_PREFIX}/latency", set_latency, methods=["PUT"]),
    Route(f"{ADMIN_PREFIX}/reset", reset, methods=["POST"]),
]
