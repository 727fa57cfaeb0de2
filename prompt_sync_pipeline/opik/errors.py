"""Opik's refusals as one exception type, and the diagnosis of an Opik that can't be used at all.

Messages name the URL (without credentials) and the variables to check, never the API key.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ..errors import UsageError
from .settings import OPIK_URL_VAR, OPIK_VARIABLES, OpikSettings


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


class OpikAddressError(UsageError):
    """``OPIK_URL_OVERRIDE`` (or the URL given) is not a URL: refused before any request."""


def url_problem(url: str, source: str = OPIK_URL_VAR) -> str | None:
    """Why ``url`` can't be Opik's address (None when it can): checked before any request, so
    a value that is not a URL is refused at once instead of being retried as a network error.
    ``source`` names where it came from (the variable, or a resource's field)."""
    shown = redact(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        problem: str | None = str(exc)
    else:
        problem = None
        if parts.scheme not in ("http", "https"):
            problem = "it needs http:// or https://"
        elif not parts.hostname:
            problem = "it names no host"
    if problem is None:
        return None
    return (
        f"{source} is {shown!r}, not a URL ({problem}): give Opik's REST API base, e.g. "
        "http://HOST:5173/api or https://www.comet.com/opik/api"
    )


def status_of(exc: BaseException | None) -> int | None:
    return getattr(exc, "status_code", None)


def as_opik_error(exc: Exception, url: str) -> OpikError:
    """Any failure of a request as an ``OpikError`` with a short, secret-free message."""
    import httpx

    if isinstance(exc, OpikError):
        return exc
    if isinstance(exc, httpx.TransportError):
        return OpikError(f"Opik at {redact(url)} is unreachable: {short(exc)}", original=exc)
    status = status_of(exc)
    if status is not None:
        message = f"Opik answered {status}: {server_message(getattr(exc, 'body', None))}"
        return OpikError(message, status, original=exc)
    return OpikError(f"Opik request failed: {short(exc)}", original=exc)


def unavailable_reason(
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
            f"in the configuration. (Variables: {OPIK_VARIABLES}.)"
        )
    if isinstance(original, httpx.TransportError):
        return (
            f"Opik at {url} is unreachable ({short(original)}){tries}. Check that Opik is "
            f"running and that OPIK_URL_OVERRIDE is its REST API base, e.g. "
            f"http://HOST:5173/api. (Variables: {OPIK_VARIABLES}.)"
        )
    if exc.status_code in (401, 403):
        where = f" for workspace {workspace!r}" if workspace else ""
        return (
            f"Opik at {url} refused the credentials{where} ({exc}). Check OPIK_API_KEY and "
            f"OPIK_WORKSPACE (and that OPIK_URL_OVERRIDE is the right Opik). "
            f"(Variables: {OPIK_VARIABLES}.)"
        )
    body = getattr(original, "body", None)
    if isinstance(body, str) or exc.status_code in (404, 405):
        # A body that isn't JSON, or no such endpoint: some other server, or a wrong path.
        return not_opik(url, exc.status_code, _body_kind(original))
    if exc.status_code is not None and exc.status_code >= 500:
        return f"Opik at {url} fails ({exc}){tries}. Check Opik's health and its logs."
    return f"Opik at {url} refused the access check ({exc}). Check {OPIK_VARIABLES}."


def not_opik(url: str, status: int | None, kind: str) -> str:
    answer = f"answered {status} with {kind}" if status else f"answered with {kind}"
    return (
        f"{url} does not answer as Opik ({answer}). Check OPIK_URL_OVERRIDE: it must be Opik's "
        f"REST API base, e.g. http://HOST:5173/api or https://www.comet.com/opik/api. "
        f"(Variables: {OPIK_VARIABLES}.)"
    )


def _body_kind(original: BaseException | None) -> str:
    headers = getattr(original, "headers", None) or {}
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    body = getattr(original, "body", None)
    if "html" in content_type or (isinstance(body, str) and body.lstrip().startswith("<")):
        return "an HTML page"
    if isinstance(body, str):
        return f"a {content_type.split(';')[0] or 'non-JSON'} body"
    return "an error: no such endpoint"


def redact(url: str) -> str:
    """The URL without any user:password part, which must never reach a log or a report."""
    return re.sub(r"//[^/@]*@", "//", url)


def server_message(body: Any) -> str:
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


def short(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    status = status_of(exc)
    if status is not None:
        return f"HTTP {status}"
    return f"{type(exc).__name__}: {redact(str(exc))}" if str(exc) else type(exc).__name__
