"""Opik's pages: ``page`` from 1, ``size`` the rows returned, ``total`` the full count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opik_emulator.errors import bad_request


def check_paging(page: int, size: int) -> None:
    """``@Min(1)`` on the ``page`` and ``size`` query parameters: 400 otherwise."""
    if page < 1:
        raise bad_request("page must be greater than or equal to 1")
    if size < 1:
        raise bad_request("size must be greater than or equal to 1")


def offset(page: int, size: int) -> int:
    return (page - 1) * size


def page_of(
    rows: Sequence[dict[str, Any]], page: int, size: int, sortable: Sequence[str]
) -> dict[str, Any]:
    """The page of ``rows`` (every row, in order) that ``page`` and ``size`` select."""
    start = offset(page, size)
    return paged(list(rows[start : start + size]), page, len(rows), sortable)


def paged(
    content: list[dict[str, Any]], page: int, total: int, sortable: Sequence[str]
) -> dict[str, Any]:
    """A page DTO around ``content`` already cut in SQL; ``size`` is how many came back."""
    return {
        "page": page,
        "size": len(content),
        "total": total,
        "content": content,
        "sortableBy": list(sortable),
    }
