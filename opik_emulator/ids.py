"""UUIDv7 ids and timestamps as the Opik backend produces them."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime

_lock = threading.Lock()
_last_ms = 0
_seq = 0


def uuid7() -> str:
    """A new UUIDv7, strictly increasing within this process.

    Opik calls the version with the highest id "latest", so two versions created in the same
    millisecond must still sort in creation order: the 12-bit ``rand_a`` field is used as a
    counter within one millisecond (RFC 9562, method 1).
    """
    global _last_ms, _seq
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            _seq = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave headroom for increments
        else:
            _seq += 1
            if _seq > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _seq = 0
        ms, seq = _last_ms, _seq
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (seq << 64) | (0b10 << 62) | rand_b
    return str(uuid.UUID(int=value))


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def is_uuid7(value: object) -> bool:
    return is_uuid(value) and uuid.UUID(str(value)).version == 7


def commit_of(version_id: str) -> str:
    """Opik's commit: the last 8 characters of the version id (``CommitUtils.getCommit``)."""
    return version_id[-8:]


def now_iso() -> str:
    """ISO-8601 UTC with microseconds, the backend's ``TIMESTAMP(6)`` serialisation.

    Fixed width, so the strings also sort chronologically in SQLite.
    """
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
