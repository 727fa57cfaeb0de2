"""The charter: the team's individual prompt templates, one JSON file in git.

Reads are validated with clear errors; writes are atomic (temp file, fsync, rename in the same
directory) and keep the file's own layout, so a pull shows up in ``git diff`` as exactly the
prompts that changed.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError

TemplateType = Literal["mustache", "jinja2"]


class CharterError(Exception):
    """The charter file is missing, unreadable or invalid. Nothing was changed."""


class CharterLocked(CharterError):
    """Another prompt-sync process holds the charter."""


class CharterChanged(CharterError):
    """The file changed after the run read it (an editor saved it): it was not overwritten."""


class PromptTemplate(BaseModel):
    """One individual prompt of the charter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = Field(min_length=1)
    type: TemplateType = "mustache"
    description: str | None = None


class Charter:
    """The charter as loaded: validated prompts plus the raw document, to rewrite it faithfully.

    ``source`` is the file's bytes as read, so a write can tell that someone saved it since.
    """

    def __init__(
        self, path: Path, raw_text: str, document: dict[str, Any], source: bytes | None = None
    ) -> None:
        self.path = path
        self.source = source
        self._raw_text = raw_text
        self._document = document
        self.prompts: dict[str, PromptTemplate] = {}
        problems = []
        for name, entry in document.items():
            try:
                self.prompts[name] = PromptTemplate.model_validate(entry)
            except ValidationError as exc:
                for error in exc.errors():
                    key = ".".join(str(p) for p in error["loc"]) or "(entry)"
                    problems.append(f"prompt {name!r}, {key}: {error['msg']}")
        if problems:
            raise CharterError(f"{path}: " + "; ".join(problems))

    def __getitem__(self, name: str) -> PromptTemplate:
        return self.prompts[name]

    def __contains__(self, name: object) -> bool:
        return name in self.prompts

    def with_templates(self, updates: Mapping[str, str]) -> Charter:
        """A copy whose named prompts carry new template texts (nothing else changes)."""
        document = json.loads(json.dumps(self._document))
        for name, template in updates.items():
            document[name]["template"] = template
        return Charter(self.path, self._raw_text, document, self.source)

    def with_types(self, updates: Mapping[str, TemplateType]) -> Charter:
        """A copy whose named prompts carry new template types (nothing else changes)."""
        document = json.loads(json.dumps(self._document))
        for name, template_type in updates.items():
            document[name]["type"] = template_type
        return Charter(self.path, self._raw_text, document, self.source)

    def render(self) -> str:
        """The document in the file's own layout: same key order, indentation and final newline."""
        indent = _detect_indent(self._raw_text)
        text = json.dumps(self._document, indent=indent, ensure_ascii=False)
        return text + "\n" if self._raw_text.endswith("\n") or not self._raw_text else text


def load_charter(path: Path) -> Charter:
    try:
        source = path.read_bytes()
        raw_text = source.decode("utf-8")
    except FileNotFoundError:
        raise CharterError(f"{path}: charter file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CharterError(f"{path}: cannot read the charter: {exc}") from None
    try:
        document = json.loads(raw_text)
    except json.JSONDecodeError as exc:
        raise CharterError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(document, dict):
        raise CharterError(f"{path}: expected an object mapping prompt names to prompts")
    return Charter(path, raw_text, document, source)


def write_charter(charter: Charter) -> None:
    """Replace the file atomically: a crash leaves the old file or the new one, never half.

    Raises CharterChanged, leaving the file alone, when its bytes are no longer the ones the
    charter was read from: the lock binds prompt-sync runs only, not a teammate's editor.
    """
    target = charter.path
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(charter.render())
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(tmp_name, target.stat().st_mode & 0o777)
        if charter.source is not None and _bytes_or_none(target) != charter.source:
            raise CharterChanged(
                f"{target} changed on disk during this run (saved after the run read it); "
                "the run left it as it is"
            )
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


@contextmanager
def charter_lock(path: Path, timeout_seconds: float) -> Iterator[None]:
    """One writer at a time: held for a whole sync so no run reads a charter another is rewriting."""
    lock_path = path.with_name(path.name + ".lock")
    lock = FileLock(lock_path, timeout=timeout_seconds)
    try:
        lock.acquire()
    except Timeout:
        raise CharterLocked(
            f"{path}: another prompt-sync run holds {lock_path} (waited {timeout_seconds:g}s); "
            "wait for it to finish and retry"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _bytes_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _detect_indent(text: str) -> int | str:
    match = re.search(r"^([ \t]+)\S", text, flags=re.MULTILINE)
    if not match:
        return 2
    whitespace = match.group(1)
    return whitespace if "\t" in whitespace else len(whitespace)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not all platforms allow opening a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
