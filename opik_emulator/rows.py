"""From SQLite rows to the backend's JSON, and back.

The backend serialises with Jackson's ``NON_NULL``: a field that is null is left out of the
answer, which :func:`compact` does. JSON columns are stored as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sized
from typing import Any

USER = "admin"  # what an Opik deployment without authentication records as the author


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without its ``None`` fields."""
    return {k: v for k, v in values.items() if v is not None}


def loads_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def dumps_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def placeholders(values: Sized) -> str:
    """``?, ?, ?``: one parameter per value, for an ``IN (...)`` of a batch query."""
    return ", ".join("?" * len(values))
