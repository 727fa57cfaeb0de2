"""Errors with the status codes and body shapes of the Opik backend."""

from __future__ import annotations

from typing import Any


class OpikError(Exception):
    """An error the emulator answers with, shaped like the backend's.

    Jersey's ``ErrorMessage`` (``{"code": 404, "message": "..."}``) is used for 401/404/409, and
    Opik's ``ErrorMessage_Detail`` (``{"errors": ["..."]}``) for validation failures (400/422).
    """

    def __init__(self, status: int, *messages: str, detail: bool | None = None) -> None:
        super().__init__(f"{status}: {'; '.join(messages)}")
        self.status = status
        self.messages = list(messages)
        self.detail = status in (400, 422) if detail is None else detail

    def body(self) -> dict[str, Any]:
        if self.detail:
            return {"errors": self.messages}
        return {"code": self.status, "message": "; ".join(self.messages)}


def bad_request(*messages: str) -> OpikError:
    return OpikError(400, *messages)


def unprocessable(*messages: str) -> OpikError:
    return OpikError(422, *messages)


def not_found(message: str) -> OpikError:
    return OpikError(404, message)


def conflict(message: str) -> OpikError:
    return OpikError(409, message)
