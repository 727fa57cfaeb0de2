"""How versions, chat messages and diffs are written in every report, message and commit."""

from __future__ import annotations

import difflib
import json
from typing import Protocol


class Versioned(Protocol):
    @property
    def version_number(self) -> str | None: ...
    @property
    def commit(self) -> str: ...


def version_label(version: Versioned | None) -> str:
    """``v3 (1a2b3c4d)``: Opik's number and the commit; ``—`` for no version."""
    if version is None:
        return "—"
    return f"{version.version_number or '?'} ({version.commit})"


def version_number(label: str | None) -> int:
    """Opik's ``v3`` as 3; -1 for anything else (no label, or not one of Opik's)."""
    if label and label.startswith("v") and label[1:].isdigit():
        return int(label[1:])
    return -1


def messages_text(messages: object) -> str:
    """A chat prompt's messages as readable text: ``[role]`` then the content, per message."""
    if not isinstance(messages, list):
        return json.dumps(messages, indent=2, ensure_ascii=False) if messages else ""
    return "".join(
        f"[{m.get('role')}]\n{m.get('content')}\n" if isinstance(m, dict) else f"{m}\n"
        for m in messages
    )


def chat_text(template: str) -> str:
    """A chat template (Opik's JSON messages array) as readable text; as is if it isn't JSON."""
    try:
        return messages_text(json.loads(template)) if template else ""
    except json.JSONDecodeError:
        return template


def unified_diff(before: str, after: str, label: str) -> str:
    """A diff of one prompt's text, headed ``label (before)`` / ``label (after)``."""
    return labelled_diff(before, after, f"{label} (before)", f"{label} (after)")


def labelled_diff(before: str, after: str, before_label: str, after_label: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=before_label,
        tofile=after_label,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
