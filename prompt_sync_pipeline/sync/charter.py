"""The charter: the team's individual prompt templates, one JSON file in git.

Reads are validated with clear errors; writes are atomic (temp file, fsync, rename in the same
directory) and keep the file's own layout, so a pull shows up in ``git diff`` as exactly the
prompts that changed.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import UsageError
from .atomic import atomic_write_text
from .composites import Parts, TemplateType
from .messages import lock_unavailable
from .validation import describe

log = logging.getLogger(__name__)


class CharterError(UsageError):
    """The charter file is missing, unreadable or invalid. Nothing was changed.

    ``problems`` lists each problem on its own (e.g. every prompt entry that doesn't validate).
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class CharterLocked(CharterError):
    """Another prompt-sync process holds the charter."""


class CharterReadOnly(CharterError):
    """The charter's directory takes no new file (the lock): a read-only checkout."""


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
                problems += [f"prompt {name!r}: {p}" for p in describe(exc, PromptTemplate)]
        if problems:
            raise CharterError(f"{path}: " + "; ".join(problems), problems)

    def __getitem__(self, name: str) -> PromptTemplate:
        return self.prompts[name]

    def __contains__(self, name: object) -> bool:
        return name in self.prompts

    def parts(self, system: str, user: str) -> Parts:
        """The texts of a composite's two messages, from the prompts that fill them."""
        return Parts(self.prompts[system].template, self.prompts[user].template)

    def with_templates(
        self, templates: Mapping[str, str], types: Mapping[str, TemplateType] | None = None
    ) -> Charter:
        """A copy whose named prompts carry new template texts, and new template types
        (nothing else changes)."""
        document = json.loads(json.dumps(self._document))
        for name, template in templates.items():
            document[name]["template"] = template
        for name, template_type in (types or {}).items():
            document[name]["type"] = template_type
        return Charter(self.path, self._raw_text, document, self.source)

    def render(self) -> str:
        """The document in the file's own layout: same key order, indentation and final newline."""
        indent = _detect_indent(self._raw_text)
        text = json.dumps(self._document, indent=indent, ensure_ascii=False)
        return text + "\n" if self._raw_text.endswith("\n") or not self._raw_text else text


def load_charter(path: Path) -> Charter:
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise CharterError(f"{path}: charter file not found") from None
    except OSError as exc:
        raise CharterError(f"{path}: cannot read the charter: {exc}") from None
    if raw_bytes.startswith(codecs.BOM_UTF8):
        # json.loads refuses it anyway; say what it is and how to fix it.
        raise CharterError(
            f"{path}: starts with a UTF-8 byte-order mark (BOM); save it as UTF-8 without BOM"
        )
    try:
        raw_text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CharterError(f"{path}: cannot read the charter: {exc}") from None
    if not raw_text.strip():
        raise CharterError(f"{path}: the charter file is empty; it must be a JSON object")
    try:
        document = json.loads(raw_text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise CharterError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except _DuplicateKey as exc:
        raise CharterError(
            f"{path}: the key {exc.key!r} appears more than once; keep one copy"
        ) from None
    if not isinstance(document, dict):
        raise CharterError(f"{path}: expected an object mapping prompt names to prompts")
    return Charter(path, raw_text, document, raw_bytes)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON keeps the last of duplicate keys silently; a charter must not lose a prompt that way."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


def write_charter(charter: Charter) -> None:
    """Replace the file atomically: a crash leaves the old file or the new one, never half.

    Raises CharterChanged, leaving the file alone, when its bytes are no longer the ones the
    charter was read from: the lock binds prompt-sync runs only, not a teammate's editor.
    """

    def unchanged_since_read() -> None:
        if charter.source is not None and _bytes_or_none(charter.path) != charter.source:
            raise CharterChanged(
                f"{charter.path} changed on disk during this run (saved after the run read it); "
                "the run left it as it is"
            )

    atomic_write_text(charter.path, charter.render(), before_replace=unchanged_since_read)


@contextmanager
def charter_lock(path: Path, timeout_seconds: float, *, writes: bool = True) -> Iterator[None]:
    """One writer at a time: held for a whole sync so no run reads a charter another is rewriting.

    A run that ``writes`` nothing (a dry run) takes no lock, so it works on a read-only checkout.
    """
    if not writes:
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    lock = FileLock(lock_path, timeout=timeout_seconds)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            # Say why the run seems to hang, once, and for how long at most.
            log.warning(
                "another prompt-sync run holds %s; waiting up to %gs for it to finish",
                lock_path,
                timeout_seconds,
            )
            lock.acquire()
    except Timeout:
        raise CharterLocked(
            f"{path}: another prompt-sync run holds {lock_path} (waited {timeout_seconds:g}s); "
            "wait for it to finish and retry"
        ) from None
    except OSError as exc:  # a read-only checkout, an immutable directory
        raise CharterReadOnly(lock_unavailable(lock_path, exc)) from None
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
