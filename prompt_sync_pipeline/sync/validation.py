"""Validation errors in sentences for people: ``opik.project_nme: unknown key (did you mean
'project_name'?)`` rather than pydantic's "Extra inputs are not permitted", no "Value error,"
prefixes, and the value that was refused."""

from __future__ import annotations

import difflib
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

# pydantic's wording -> ours, by the start of its message.
_REWORDED = (
    ("Input should be ", "must be "),
    ("Value should be ", "must be "),
    ("String should ", "must "),
    ("Dictionary should ", "must "),
    ("List should ", "must "),
)


def describe(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One sentence per problem, each starting with where it is (``opik.timeout_seconds: ...``)."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        text = _sentence(error, model)
        problems.append(f"{where}: {text}" if where else text)
    return problems


def _sentence(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return _unknown_key(error, model)
    if kind == "missing":
        return "missing (required)"
    if kind == "value_error":
        return str((error.get("ctx") or {}).get("error", error["msg"]))
    if (
        kind in ("too_short", "string_too_short")
        and (error.get("ctx") or {}).get("min_length") == 1
    ):
        return "must not be empty" + (
            ": give at least one entry" if isinstance(value, dict) else ""
        )
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of keys to values (it is {_shown(value)})"
    text = error["msg"]
    for theirs, ours in _REWORDED:
        if text.startswith(theirs):
            text = ours + text[len(theirs) :]
            break
    return f"{text} (it is {_shown(value)})" if _is_scalar(value) else text


def _unknown_key(error: ErrorDetails, model: type[BaseModel]) -> str:
    key = str(error["loc"][-1])
    known = _fields_at(model, error["loc"][:-1])
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return "unknown key" + (f"; the keys here: {', '.join(known)}" if known else "")


def _fields_at(model: type[BaseModel], path: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts at ``path`` (the user's own keys of a dict are stepped over:
    ``composites.<name>`` holds a ``CompositeSpec``)."""
    current: Any = model
    dict_key_next = False
    for part in path:
        if dict_key_next:
            dict_key_next = False
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        dict_key_next = get_origin(field.annotation) is dict
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The model an annotation holds: ``X``, ``X | None`` or ``dict[str, X]``; else None."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
