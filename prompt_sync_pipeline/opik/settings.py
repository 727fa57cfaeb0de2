"""How prompt-sync talks to Opik: the ``opik:`` section of the configuration.

Opik's address and credentials are not here: they come from the SDK's own variables
(``OPIK_URL_OVERRIDE``, ``OPIK_API_KEY``, ``OPIK_WORKSPACE``), so a key never sits in a file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

OPIK_URL_VAR = "OPIK_URL_OVERRIDE"
OPIK_WORKSPACE_VAR = "OPIK_WORKSPACE"
OPIK_API_KEY_VAR = "OPIK_API_KEY"
OPIK_VARIABLES = f"{OPIK_URL_VAR}, {OPIK_API_KEY_VAR} and {OPIK_WORKSPACE_VAR}"


class Strict(BaseModel):
    # No NaN or infinity: every number has a range, and inf would pass as "no limit".
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RetrySettings(Strict):
    """Retries of transient Opik failures (429, 5xx, timeouts, refused connections)."""

    attempts: int = Field(default=5, ge=1, le=20)
    initial_backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    max_backoff_seconds: float = Field(default=10.0, ge=0, le=300)
    max_retry_after_seconds: float = Field(default=30.0, ge=0, le=300)


class OpikSettings(Strict):
    """Where the prompts live in Opik, and how hard a run may use it."""

    project_name: str = Field(min_length=1)
    pull_environment: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,150}$")
    max_concurrency: int = Field(default=16, ge=1, le=128)
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # Opik Cloud's published limit is 2,000 requests a minute per user; null: no limit.
    max_requests_per_minute: int | None = Field(default=2000, ge=1, le=1_000_000)
    retries: RetrySettings = RetrySettings()
