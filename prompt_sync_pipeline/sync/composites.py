"""Composite chat prompts: built from two individual prompts, and split back into them.

Also the provenance record that makes a version a *base*: the content hash the tool stores in the
metadata of versions it creates, or in a tag on versions it adopts. A record counts only when the
hash matches the version's actual content, so an editor that copies metadata forward can't fake one,
and (for metadata) only on the version whose commit it names: Opik's restore copies metadata onto a
new version, and that copy describes its source, not an agreement with the charter.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

TemplateType = Literal["mustache", "jinja2"]
PROVENANCE_KEY = "prompt_sync"
BASE_TAG_PREFIX = "prompt-sync-base:"
ROLES = ("system", "user")
TEMPLATE_TYPES: tuple[TemplateType, ...] = ("mustache", "jinja2")


def as_template_type(name: str | None) -> TemplateType | None:
    """``name`` if the charter can hold it as a prompt's type, else None."""
    return name if name in TEMPLATE_TYPES else None


class MalformedComposite(Exception):
    """A composite in Opik that can't be split into the charter's parts; the reason says why."""


@dataclass(frozen=True)
class Parts:
    """The text of each message of a composite, by role."""

    system: str
    user: str

    def __getitem__(self, role: str) -> str:
        return self.system if role == "system" else self.user

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]


def content_hash(template: str | list[dict[str, Any]], template_type: str) -> str:
    """A stable hash of a prompt's content: text as text, chat as parsed messages."""
    body = template if isinstance(template, str) else json.dumps(template, sort_keys=True)
    payload = json.dumps({"type": template_type, "content": body}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=65536)  # the same few thousand texts are hashed for every composite
def text_sha256(text: str, template_type: str) -> str:
    """The hash the state keeps of a part or an individual prompt: its text and template type."""
    return content_hash(text, template_type)


def new_commit() -> str:
    """A client-chosen commit (8 hex characters, Opik's format) for a version about to be created."""
    return secrets.token_hex(4)


def provenance(parts: Mapping[str, str], content_sha256: str, commit: str) -> dict[str, Any]:
    """Metadata on versions the tool creates: the part map, the hash of what was pushed and the
    commit of the version it is written on (so a copy on another version doesn't count)."""
    return {
        PROVENANCE_KEY: {"parts": dict(parts), "content_sha256": content_sha256, "commit": commit}
    }


def base_tag(content_sha256: str) -> str:
    return BASE_TAG_PREFIX + content_sha256


def is_recorded_base(
    metadata: Any, tags: list[str] | None, actual_sha256: str, commit: str
) -> bool:
    """True when the version carries a genuine record: its own content's hash, in a tag (Opik
    never copies tags), or in metadata written on this very version (``commit`` is its own)."""
    if base_tag(actual_sha256) in (tags or []):
        return True
    record = metadata.get(PROVENANCE_KEY) if isinstance(metadata, dict) else None
    return (
        isinstance(record, dict)
        and record.get("content_sha256") == actual_sha256
        and record.get("commit") == commit
    )


def parse_chat_template(template: str) -> list[dict[str, Any]]:
    try:
        messages = json.loads(template)
    except json.JSONDecodeError as exc:
        raise MalformedComposite(f"template is not a JSON messages array ({exc.msg})") from None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise MalformedComposite("template is not a JSON array of messages")
    return messages


def decompose(messages: list[dict[str, Any]], template_type: str | None) -> Parts:
    """Split a composite into its system and user texts, or say why it can't be done."""
    if template_type not in TEMPLATE_TYPES:
        raise MalformedComposite(f"unknown template type {template_type!r}")
    roles = [message.get("role") for message in messages]
    if sorted(map(str, roles)) != sorted(ROLES):
        raise MalformedComposite(
            f"expected exactly one system and one user message, found roles {roles}"
        )
    texts: dict[str, str] = {}
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str):
            raise MalformedComposite(f"the {message['role']} message has non-text content")
        texts[message["role"]] = content
    return Parts(system=texts["system"], user=texts["user"])


def variable_change(role: str, remote: str, local: str, template_type: str) -> str | None:
    """Why a remote part can't be adopted: it dropped or added a template variable, else None."""
    try:
        found = variables(remote, template_type)
    except MalformedComposite as exc:
        return f"the {role} message: {exc}"
    expected = variables(local, template_type)
    if found == expected:
        return None
    changes = []
    if dropped := sorted(expected - found):
        changes.append(f"dropped {', '.join(dropped)}")
    if added := sorted(found - expected):
        changes.append(f"added {', '.join(added)}")
    return (
        f"the {role} message {' and '.join(changes)} compared with the charter's template variables"
    )


def variables(template: str, template_type: str) -> set[str]:
    """The template variables a prompt needs, so a remote edit can't silently drop or add one."""
    if template_type == "jinja2":
        import jinja2  # here: the decision core's import pulls in no template engine
        import jinja2.meta

        try:
            return set(jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(template)))
        except jinja2.TemplateSyntaxError as exc:
            raise MalformedComposite(f"jinja2 syntax error: {exc.message}") from None
    names = set()
    for match in _MUSTACHE_TAG.finditer(template):
        sigil, name = match.group("sigil"), match.group("name")
        if sigil in ("!", ">", "="):  # comments, partials, delimiter changes
            continue
        names.add(name.split(".")[0])
    return names


_MUSTACHE_TAG = re.compile(r"\{\{\{?\s*(?P<sigil>[#^/&!>=]?)\s*(?P<name>[^\s{}]+?)\s*\}?\}\}")
