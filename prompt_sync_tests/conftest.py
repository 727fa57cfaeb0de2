"""Shared fixtures: an Opik to test against (the emulator, or an external Opik) and SDK clients.

By default a session-wide Opik emulator runs in a background thread on a free loopback port and
every test gets its own workspace and project on it. Set ``PROMPT_SYNC_TEST_OPIK_URL`` (plus
optionally ``PROMPT_SYNC_TEST_OPIK_API_KEY`` and ``PROMPT_SYNC_TEST_OPIK_WORKSPACE``) to run the
same tests against a real Opik; tests that need fault injection or the request log then skip,
unless that URL is itself an emulator (it answers ``/__emulator__``).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
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
from prompt_sync_tests.forseti import Forseti, make_forseti  # noqa: E402

EXTERNAL_URL_VAR = "PROMPT_SYNC_TEST_OPIK_URL"
# PostgreSQL and Chromium for the production-like tests.
pytest_plugins = ["prompt_sync_tests.services"]


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


# -- OpenAPI response validation --------------------------------------------------------------

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "shared/opik/openapi.yaml"
OPENAPI_MISSING = f"Opik's OpenAPI spec not found at {OPENAPI_PATH}: responses not validated"


class OpenApiSpec:
    """Opik's OpenAPI spec (reference data outside the repo), to check response bodies."""

    def __init__(self, path: Path) -> None:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(loader):  # type: ignore[misc, valid-type]
            pass

        # The spec has one `tag:yaml.org,2002:value` node (an "=" enum item) safe_load rejects.
        Loader.add_constructor(
            "tag:yaml.org,2002:value", lambda ld, node: ld.construct_scalar(node)
        )
        with path.open(encoding="utf-8") as handle:
            self.spec = yaml.load(handle, Loader=Loader)
        # Literal paths first, so /prompts/versions is not taken for /prompts/{id}.
        self._paths = sorted(
            (
                (path.count("{"), re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
                for path in self.spec["paths"]
            ),
            key=lambda item: item[0],
        )

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        path = path.removeprefix("/api")
        for _, pattern, spec_path in self._paths:
            operation = self.spec["paths"][spec_path].get(method.lower())
            if operation is not None and pattern.match(path):
                return operation
        return None

    def problems(self, method: str, path: str, status: int, body: bytes) -> list[str]:
        """Why this response does not match the spec (empty when it does)."""
        from openapi_schema_validator import OAS31Validator

        where = f"{method} {path} → {status}"
        operation = self.operation(method, path)
        if operation is None:
            return [f"{where}: no such operation in the spec"]
        responses = operation.get("responses", {})
        response = responses.get(str(status)) or responses.get("default")
        if response is None:
            # Error statuses the spec does not list (README-documented 404s) are not checked.
            return [f"{where}: status not in the spec"] if status < 400 else []
        content = response.get("content")
        if not content:  # e.g. 201/204: the spec promises no body
            return [] if not body.strip() or status >= 400 else [f"{where}: unexpected body"]
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None:
            return []
        try:
            instance = json.loads(body)
        except ValueError:
            return [f"{where}: body is not JSON: {body[:200]!r}"]
        validator = OAS31Validator(
            {**schema, "components": self.spec["components"]},
            format_checker=OAS31Validator.FORMAT_CHECKER,
        )
        return [f"{where}: {error.message}" for error in validator.iter_errors(instance)]


@pytest.fixture(scope="session")
def openapi_spec() -> OpenApiSpec | None:
    """Opik's OpenAPI spec from ``../shared/opik/openapi.yaml``, or None when absent."""
    return OpenApiSpec(OPENAPI_PATH) if OPENAPI_PATH.is_file() else None


@dataclass
class ResponseChecker:
    """Collects every response an SDK client receives and validates it against the spec."""

    spec: OpenApiSpec | None
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def hook(self, response: Any) -> None:
        response.read()
        request = response.request
        self.seen.append((request.method, request.url.path, response.status_code))
        if self.spec is not None and "/__emulator__" not in request.url.path:
            self.problems.extend(
                self.spec.problems(
                    request.method, request.url.path, response.status_code, response.content
                )
            )

    def attach(self, client: Any) -> None:
        """Hook into an ``opik.Opik`` client's (or an ``OpikApi``'s) httpx client."""
        from prompt_sync_pipeline.opik import sdk

        http = sdk.http_client(getattr(client, "rest_client", client))
        http.event_hooks["response"] = [*http.event_hooks["response"], self.hook]

    def assert_valid(self) -> None:
        assert not self.problems, "responses that do not match Opik's OpenAPI spec:\n" + "\n".join(
            self.problems
        )


@pytest.fixture
def openapi_checked(
    opik_client: Any, openapi_spec: OpenApiSpec | None
) -> Iterator[ResponseChecker]:
    """Validates every response ``opik_client`` receives during the test against Opik's OpenAPI
    spec (when ``../shared/opik/openapi.yaml`` exists; otherwise only records them)."""
    checker = ResponseChecker(openapi_spec)
    checker.attach(opik_client)
    yield checker
    checker.assert_valid()


# -- The worked example ---------------------------------------------------------------------


@pytest.fixture
def forseti(tmp_path: Path, opik_target: OpikTarget) -> Forseti:
    """The forseti example copied into ``tmp_path``, syncing to this test's Opik project."""
    return make_forseti(tmp_path, opik_target.project_name)


@pytest.fixture
def synced(forseti: Forseti, opik_client: Any) -> Forseti:
    """The example after a first successful sync: Opik holds the seven prompts and their bases."""
    report = forseti.sync()
    assert not report.failed, report.to_json()
    return forseti


@pytest.fixture
def instance() -> Iterator[Any]:
    """A Dagster instance of its own (SQLite in a temp dir) for one test."""
    import dagster as dg

    with dg.instance_for_test() as dagster_instance:
        yield dagster_instance
