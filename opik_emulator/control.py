"""One interface to an emulator's test controls, whether it runs in this process or not.

:class:`LocalControl` wraps an in-thread :class:`~opik_emulator.server.EmulatorServer`;
:class:`AdminClient` talks to any emulator (e.g. an ``opik-emulator`` subprocess) over its
``/__emulator__`` routes. Both offer the same methods, so fixtures can use either.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from opik_emulator.faults import ADMIN_PREFIX, FaultRule, Faults, RequestLog, RequestRecord


class EmulatorControl(Protocol):
    def requests(self, workspace: str | None = None) -> list[RequestRecord]: ...

    def clear_requests(self, workspace: str | None = None) -> None: ...

    def add_fault(self, rule: FaultRule) -> FaultRule: ...

    def remove_fault(self, rule_id: int) -> None: ...

    def set_latency(self, ms: float) -> None: ...

    def reset(self) -> None: ...


class LocalControl:
    def __init__(self, faults: Faults, request_log: RequestLog) -> None:
        self._faults = faults
        self._log = request_log

    def requests(self, workspace: str | None = None) -> list[RequestRecord]:
        return self._log.records(workspace)

    def clear_requests(self, workspace: str | None = None) -> None:
        self._log.clear(workspace)

    def add_fault(self, rule: FaultRule) -> FaultRule:
        return self._faults.add(rule)

    def remove_fault(self, rule_id: int) -> None:
        self._faults.remove(rule_id)

    def set_latency(self, ms: float) -> None:
        self._faults.latency_ms = ms

    def reset(self) -> None:
        self._faults.reset()
        self._log.clear()


class AdminClient:
    """HTTP client of the admin routes; ``base_url`` is the server root or its ``/api`` URL."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        root = base_url.rstrip("/").removesuffix("/api")
        self._http = httpx.Client(base_url=f"{root}{ADMIN_PREFIX}", timeout=timeout)

    def is_emulator(self) -> bool:
        """Whether the server answers the admin routes (an Opik backend does not)."""
        try:
            return self._http.get("/faults").status_code == 200
        except httpx.HTTPError:
            return False

    def requests(self, workspace: str | None = None) -> list[RequestRecord]:
        params = {"workspace": workspace} if workspace is not None else {}
        response = self._http.get("/requests", params=params)
        response.raise_for_status()
        return [RequestRecord(**item) for item in response.json()]

    def clear_requests(self, workspace: str | None = None) -> None:
        params = {"workspace": workspace} if workspace is not None else {}
        self._http.delete("/requests", params=params).raise_for_status()

    def add_fault(self, rule: FaultRule) -> FaultRule:
        payload: dict[str, Any] = {
            k: v for k, v in rule.to_dict().items() if k not in ("id", "hits")
        }
        response = self._http.post("/faults", json=payload)
        response.raise_for_status()
        stored = response.json()
        created = FaultRule.from_dict(stored)
        created.id = stored["id"]
        return created

    def remove_fault(self, rule_id: int) -> None:
        self._http.delete(f"/faults/{rule_id}").raise_for_status()

    def set_latency(self, ms: float) -> None:
        self._http.put("/latency", json={"ms": ms}).raise_for_status()

    def reset(self) -> None:
        self._http.post("/reset").raise_for_status()

    def close(self) -> None:
        self._http.close()
