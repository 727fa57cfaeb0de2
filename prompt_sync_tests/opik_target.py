"""The Opik the tests talk to (the emulator, or an external Opik), per test a workspace and a
project of its own, and SDK clients on it.

By default a session-wide Opik emulator runs in a background thread on a free loopback port and
every test gets its own workspace and project on it. Set ``PROMPT_SYNC_TEST_OPIK_URL`` (plus
optionally ``PROMPT_SYNC_TEST_OPIK_API_KEY`` and ``PROMPT_SYNC_TEST_OPIK_WORKSPACE``) to run the
same tests against a real Opik; tests that need fault injection or the request log then skip,
unless that URL is itself an emulator (it answers ``/__emulator__``).
"""

from __future__ import annotations

import atexit
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# The SDK reads its settings when a client is built. Make sure no test reports analytics or
# errors, reads the developer's ~/.opik.config, or reaches a default (cloud) URL: the fixtures
# below set the real URL per test. OPIK_CONFIG_PATH must name an existing file.
_config_fd, _CONFIG_PATH = tempfile.mkstemp(prefix="prompt-sync-tests-", suffix=".opik.config")
os.write(_config_fd, b"[opik]\n")
os.close(_config_fd)
atexit.register(lambda: os.path.exists(_CONFIG_PATH) and os.remove(_CONFIG_PATH))
os.environ.update(
    {
        "OPIK_CONFIG_PATH": _CONFIG_PATH,
        "OPIK_ANALYTICS_ENABLE": "false",
        "OPIK_SENTRY_ENABLE": "false",
        "OPIK_TRACK_DISABLE": "true",
        "OPIK_URL_OVERRIDE": "http://127.0.0.1:9/api",  # discard port: fails fast, stays local
        # The SDK client's background is-alive ping would show up in tests' request counts.
        "OPIK_CONNECTION_MONITOR_PING_INTERVAL": "3600",
    }
)
for _name in ("OPIK_API_KEY", "OPIK_WORKSPACE", "OPIK_PROJECT_NAME"):
    os.environ.pop(_name, None)

from opik_emulator import AdminClient, EmulatorControl, EmulatorServer  # noqa: E402
from opik_emulator.faults import FaultRule, RequestRecord  # noqa: E402

EXTERNAL_URL_VAR = "PROMPT_SYNC_TEST_OPIK_URL"


@dataclass
class OpikService:
    """The Opik the session tests against; ``control`` is None when it is not an emulator."""

    url: str
    api_key: str | None
    workspace: str | None  # fixed workspace of an external Opik; None: one per test
    control: EmulatorControl | None
    server: EmulatorServer | None = None


@dataclass
class OpikTarget:
    """Where one test talks to Opik: its URL, key, workspace and project, and test controls.

    ``env`` holds the ``OPIK_*`` variables a subprocess (e.g. the ``prompt-sync`` CLI) needs;
    the ``opik_target`` fixture also sets them in this process for the test's duration.
    """

    url: str
    api_key: str | None
    workspace: str
    project_name: str
    env: dict[str, str]
    control: EmulatorControl | None = None
    _rules: list[FaultRule] = field(default_factory=list)
    _latency_changed: bool = False

    @property
    def is_emulator(self) -> bool:
        return self.control is not None

    def require_emulator(self) -> EmulatorControl:
        """The emulator's controls; skips the test when running against a real Opik."""
        if self.control is None:
            pytest.skip(
                f"needs the Opik emulator's fault injection / request log; {EXTERNAL_URL_VAR} "
                "points at an Opik without them"
            )
        return self.control

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
        """Poll ``condition`` (e.g. a held request has arrived) until it holds; fail naming
        ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
            time.sleep(0.01)

    def requests(self) -> list[RequestRecord]:
        """The requests this test's workspace sent so far, oldest first."""
        return self.require_emulator().requests(self.workspace)

    def clear_requests(self) -> None:
        self.require_emulator().clear_requests(self.workspace)

    def inject(self, path: str, method: str | None = None, **options: Any) -> FaultRule:
        """Script a failure for this workspace's requests; see :class:`FaultRule`.

        E.g. ``inject(r"/prompts/versions$", "POST", status=503, times=2)``, or
        ``inject(..., status=429, headers={"Retry-After": "1"})``, or ``drop=True``,
        ``after_commit=True``. Rules still pending are removed when the test ends.
        """
        options.setdefault("workspace", self.workspace)
        rule = self.require_emulator().add_fault(FaultRule(path=path, method=method, **options))
        self._rules.append(rule)
        return rule

    def set_latency(self, ms: float) -> None:
        """Delay every request to the emulator (all workspaces) by ``ms``; reset after the test."""
        self.require_emulator().set_latency(ms)
        self._latency_changed = True

    def clear_faults(self) -> None:
        """Remove the rules this test added and any latency it set."""
        if self.control is None:
            return
        for rule in self._rules:
            self.control.remove_fault(rule.id)
        self._rules.clear()
        if self._latency_changed:
            self.control.set_latency(0)
            self._latency_changed = False

    def rest_client(self, *, compress: bool = True) -> Any:
        """A raw ``OpikApi`` REST client without the SDK's retry wrapper (which sleeps 5-15 s
        on 429/5xx), for tests that want to see each status themselves."""
        import opik.httpx_client
        from opik.rest_api import OpikApi

        http = opik.httpx_client.get(self.workspace, self.api_key, False, compress)
        return OpikApi(base_url=self.url, httpx_client=http)


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)[:limit].strip("-")


@pytest.fixture(scope="session")
def opik_server() -> Iterator[OpikService]:
    """The session's Opik: an in-thread emulator with an in-memory database, or the external
    Opik named by ``PROMPT_SYNC_TEST_OPIK_URL`` (+ ``_API_KEY``, ``_WORKSPACE``)."""
    external = os.environ.get(EXTERNAL_URL_VAR)
    if external:
        admin = AdminClient(external)
        is_emulator = admin.is_emulator()
        # A real Opik only knows its own workspaces ("default" when self-hosted); an external
        # emulator can still give every test a fresh one.
        workspace = os.environ.get("PROMPT_SYNC_TEST_OPIK_WORKSPACE") or (
            None if is_emulator else "default"
        )
        yield OpikService(
            url=external.rstrip("/"),
            api_key=os.environ.get("PROMPT_SYNC_TEST_OPIK_API_KEY") or None,
            workspace=workspace,
            control=admin if is_emulator else None,
        )
        admin.close()
        return
    with EmulatorServer() as server:
        yield OpikService(
            url=server.url, api_key=None, workspace=None, control=server.control, server=server
        )


@pytest.fixture
def opik_target(
    opik_server: OpikService, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OpikTarget]:
    """A fresh workspace (on the emulator) and a unique project for this test, with the
    ``OPIK_*`` environment variables set accordingly; faults it injects are removed after."""
    suffix = uuid.uuid4().hex[:10]
    workspace = opik_server.workspace or f"ws-{suffix}"
    project_name = f"proj-{_slug(request.node.name)}-{suffix}"
    env = {
        "OPIK_URL_OVERRIDE": opik_server.url,
        "OPIK_WORKSPACE": workspace,
        "OPIK_PROJECT_NAME": project_name,
        "OPIK_ANALYTICS_ENABLE": "false",
        "OPIK_SENTRY_ENABLE": "false",
        "OPIK_TRACK_DISABLE": "true",
        "OPIK_CONFIG_PATH": _CONFIG_PATH,
    }
    if opik_server.api_key:
        env["OPIK_API_KEY"] = opik_server.api_key
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    target = OpikTarget(
        url=opik_server.url,
        api_key=opik_server.api_key,
        workspace=workspace,
        project_name=project_name,
        env=env,
        control=opik_server.control,
    )
    yield target
    target.clear_faults()


@pytest.fixture
def opik_client(opik_target: OpikTarget) -> Iterator[Any]:
    """An ``opik.Opik`` client on ``opik_target`` (its workspace and project), ended after."""
    import opik

    client = opik.Opik(
        host=opik_target.url,
        workspace=opik_target.workspace,
        api_key=opik_target.api_key,
        project_name=opik_target.project_name,
    )
    yield client
    client.end()
