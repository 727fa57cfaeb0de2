"""The ``filters`` and ``sorting`` query parameters of Opik's list endpoints.

Both are JSON strings. ``filters`` is what the SDK's OQL parser produces, e.g.
``[{"field":"tags","key":"","type":"list","operator":"contains","value":"prod"}]``; the
``type`` comes from a per-endpoint field table here, not from the client, as in the backend.
Comparisons follow the backend's query builder: string comparisons are case-insensitive, a list
``contains`` is a case-insensitive substring match on any element, ``=`` on a list is membership.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opik_emulator.errors import bad_request

STRING, LIST, DICTIONARY, DATE_TIME, ENUM, NUMBER = (
    "string",
    "list",
    "dictionary",
    "date_time",
    "enum",
    "number",
)
# A number under a key of a {name: value} mapping: ``feedback_scores.<name> > 0.5``.
KEYED_NUMBER = "feedback_scores_number"


@dataclass(frozen=True)
class Filter:
    field: str
    kind: str
    operator: str
    key: str
    value: str


def parse_filters(raw: str | None, fields: Mapping[str, str]) -> list[Filter]:
    """Parse ``raw`` against the endpoint's ``fields`` (name → type); 400 on anything unknown."""
    if raw is None or raw.strip() == "":
        return []
    try:
        items = json.loads(raw)
    except json.JSONDecodeError:
        raise bad_request("Invalid filters query parameter") from None
    if not isinstance(items, list):
        raise bad_request("Invalid filters query parameter")
    parsed = []
    for item in items:
        if not isinstance(item, dict) or item.get("field") not in fields:
            raise bad_request(f"Invalid filter field: {item!r}")
        field = item["field"]
        operator = item.get("operator")
        if operator not in _OPERATORS:
            raise bad_request(f"Invalid filter operator: {operator!r}")
        value = item.get("value")
        parsed.append(
            Filter(
                field=field,
                kind=fields[field],
                operator=operator,
                key=str(item.get("key") or ""),
                value="" if value is None else str(value),
            )
        )
    return parsed


def matches(row: Mapping[str, Any], filters: Iterable[Filter]) -> bool:
    """Whether ``row`` (field name → Python value) passes every filter (they are ANDed)."""
    return all(_matches_one(row.get(f.field), f) for f in filters)


def _matches_one(actual: Any, f: Filter) -> bool:
    op, wanted = f.operator, f.value
    if f.kind == LIST:
        elements = [str(e) for e in (actual or [])]
        if op == "is_empty":
            return not elements
        if op == "is_not_empty":
            return bool(elements)
        if op in ("contains", "not_contains"):
            hit = any(wanted.lower() in e.lower() for e in elements)
            return hit if op == "contains" else not hit
        if op in ("=", "!="):
            return (wanted in elements) == (op == "=")
        return False
    if f.kind == DICTIONARY:
        actual = _dig(actual, f.key)
        if actual is None:
            return op in ("!=", "not_contains", "is_empty")
        text = actual if isinstance(actual, str) else json.dumps(actual)
        return _compare_text(text, op, wanted, numeric=True)
    if f.kind == DATE_TIME:
        if actual is None:
            return op == "!="
        return _compare(_parse_time(str(actual)), op, _parse_time(wanted))
    if f.kind == KEYED_NUMBER:
        actual = (actual or {}).get(f.key)
        if op in ("is_empty", "is_not_empty"):
            return (actual is None) == (op == "is_empty")
        return actual is not None and _compare_number(actual, op, wanted)
    if f.kind == NUMBER:
        if actual is None:
            return op == "!="
        return _compare_number(actual, op, wanted)
    if f.kind == ENUM:
        if op not in ("=", "!="):
            raise bad_request(f"Operator {op} is not supported for field {f.field}")
        return (str(actual) == wanted) == (op == "=")
    if op == "is_empty":
        return not actual
    if op == "is_not_empty":
        return bool(actual)
    return _compare_text("" if actual is None else str(actual), op, wanted, numeric=False)


def _compare_number(actual: Any, op: str, wanted: str) -> bool:
    try:
        return _compare(float(actual), op, float(wanted))
    except ValueError:
        raise bad_request(f"Invalid number in filter: {wanted!r}") from None


def _compare_text(text: str, op: str, wanted: str, *, numeric: bool) -> bool:
    low, want = text.lower(), wanted.lower()
    if op == "contains":
        return want in low
    if op == "not_contains":
        return want not in low
    if op == "starts_with":
        return low.startswith(want)
    if op == "ends_with":
        return low.endswith(want)
    if numeric and op in (">", ">=", "<", "<="):
        try:
            return _compare(float(text), op, float(wanted))
        except ValueError:
            pass
    return _compare(low, op, want)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    return False


def _dig(value: Any, key: str) -> Any:
    """``metadata.a.b`` arrives as key ``a.b`` (or ``$.a.b``): walk nested objects."""
    key = key.removeprefix("$.")
    if not key:
        return value
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Invalid date-time in filter: {text!r}") from None


_OPERATORS = frozenset(
    {
        "=", "!=", ">", ">=", "<", "<=", "contains", "not_contains", "starts_with", "ends_with",
        "is_empty", "is_not_empty",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


def parse_sorting(raw: str | None, sortable: Sequence[str]) -> list[SortKey]:
    if raw is None or raw.strip() == "":
        return []
    try:
        items = json.loads(raw)
    except json.JSONDecodeError:
        raise bad_request("Invalid sorting query parameter") from None
    if not isinstance(items, list):
        raise bad_request("Invalid sorting query parameter")
    keys = []
    for item in items:
        if not isinstance(item, dict) or item.get("field") not in sortable:
            raise bad_request(f"Invalid sorting field: {item!r}")
        direction = str(item.get("direction") or "ASC").upper()
        keys.append(SortKey(item["field"], direction == "DESC"))
    return keys


def _field(row: dict[str, Any], field: str) -> Any:
    return row.get(field)


def sort_rows(
    rows: list[dict[str, Any]],
    keys: Sequence[SortKey],
    value: Callable[[dict[str, Any], str], Any] = _field,
) -> list[dict[str, Any]]:
    """Sort by ``keys`` then ``id`` descending (the backend's tie-break: newest first)."""
    ordered = sorted(rows, key=lambda r: r["id"], reverse=True)
    for key in reversed(keys):  # stable sorts: the first key ends up the primary one

        def by(row: dict[str, Any], field: str = key.field) -> tuple[int, Any]:
            return _sortable(value(row, field))

        ordered.sort(key=by, reverse=key.descending)
    return ordered


def _sortable(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, (list, dict)):
        return (1, json.dumps(value, sort_keys=True))
    if isinstance(value, str):
        return (1, value.lower())
    return (1, value)
