"""Opik's own OpenAPI spec as a check on the emulator: every response an SDK client receives in a
test that asks for ``openapi_checked`` must match the spec (reference data beside the repository,
``../shared/opik/openapi.yaml``; never copied into it)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from prompt_sync_tests.services import missing

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "shared/opik/openapi.yaml"


def _as_json_schema_bounds(node: Any) -> None:
    """The spec says OpenAPI 3.1 but writes ``exclusiveMaximum: false`` (3.0's boolean form,
    from swagger-core) on feedback-score values. JSON Schema reads ``false`` as the number 0,
    so every score would fail its bounds: give those keywords their 3.1 meaning."""
    if isinstance(node, list):
        for item in node:
            _as_json_schema_bounds(item)
    if not isinstance(node, dict):
        return
    for keyword, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        exclusive = node.get(keyword)
        if not isinstance(exclusive, bool):
            continue
        del node[keyword]
        if exclusive and bound in node:  # 3.0's "the bound is exclusive"
            node[keyword] = node.pop(bound)
    for value in node.values():
        _as_json_schema_bounds(value)


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
        _as_json_schema_bounds(self.spec)
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
def openapi_spec() -> OpenApiSpec:
    """Opik's OpenAPI spec from ``../shared/opik/openapi.yaml``: without it, a test that
    validates responses skips (fails under CI, where it is always beside the repository)."""
    if not OPENAPI_PATH.is_file():
        missing(f"Opik's OpenAPI spec is not at {OPENAPI_PATH}, so responses can't be validated")
    return OpenApiSpec(OPENAPI_PATH)


@dataclass
class ResponseChecker:
    """Collects every response an SDK client receives and validates it against the spec."""

    spec: OpenApiSpec
    seen: list[tuple[str, str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def hook(self, response: Any) -> None:
        response.read()
        request = response.request
        self.seen.append((request.method, request.url.path, response.status_code))
        if "/__emulator__" not in request.url.path:
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
def openapi_checked(opik_client: Any, openapi_spec: OpenApiSpec) -> Iterator[ResponseChecker]:
    """Validates every response ``opik_client`` receives during the test against Opik's OpenAPI
    spec."""
    checker = ResponseChecker(openapi_spec)
    checker.attach(opik_client)
    yield checker
    checker.assert_valid()
