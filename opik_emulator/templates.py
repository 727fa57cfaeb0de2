"""Template variables, as the backend reports them in a version's ``variables``.

Opik computes them server-side (``TemplateParseUtils.extractVariables``). This is a deliberately
small re-implementation: mustache value tags and section names, and the free names of jinja2
expressions and statements. A chat prompt's template is the JSON text of its messages, which is
scanned as is, so the variables of every message are found.
"""

from __future__ import annotations

import re

_MUSTACHE_TAG = re.compile(r"\{\{\{\s*(.+?)\s*\}\}\}|\{\{\s*([#^/!>&=]?)\s*(.*?)\s*\}\}", re.S)

_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_JINJA_EXPR = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
_JINJA_STMT = re.compile(r"\{%-?\s*(\w+)(.*?)-?%\}", re.S)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FOR_TARGETS = re.compile(r"^\s*(.+?)\s+in\s+(.*)$", re.S)
_SET_TARGET = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_,\s]*?)\s*=(?!=)(.*)$", re.S)

# Names that are never template inputs: operators, literals and jinja2's default globals.
_JINJA_RESERVED = frozenset(
    {
        "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False",
        "None", "loop", "range", "dict", "lipsum", "cycler", "joiner", "namespace", "super",
        "self", "varargs", "kwargs", "caller",
    }
)  # fmt: skip


def extract_variables(template: str, template_type: str | None) -> list[str]:
    """The variables of ``template`` in order of first appearance, without duplicates."""
    if template_type == "jinja2":
        return _jinja_variables(template)
    if template_type == "python":
        return []  # Python-formatted prompts are executed client-side; Opik reports none.
    return _mustache_variables(template)


def _mustache_variables(template: str) -> list[str]:
    found: dict[str, None] = {}
    for match in _MUSTACHE_TAG.finditer(template):
        triple, sigil, name = match.group(1), match.group(2), match.group(3)
        if triple is not None:
            found.setdefault(triple, None)
        elif sigil in ("", "&", "#", "^") and name and name != ".":
            found.setdefault(name, None)
    return list(found)


def _jinja_variables(template: str) -> list[str]:
    template = _JINJA_COMMENT.sub("", template)
    found: dict[str, None] = {}
    local: set[str] = set()

    # Statements first, so loop and `set` targets are known before expressions are read.
    events: list[tuple[int, str]] = []
    for match in _JINJA_STMT.finditer(template):
        keyword, rest = match.group(1), match.group(2)
        if keyword == "for":
            parsed = _FOR_TARGETS.match(rest)
            if parsed:
                local.update(_NAME.findall(parsed.group(1)))
                events.append((match.start(), parsed.group(2)))
        elif keyword == "set":
            parsed = _SET_TARGET.match(rest)
            if parsed:
                local.update(_NAME.findall(parsed.group(1)))
                events.append((match.start(), parsed.group(2)))
        elif keyword in ("if", "elif"):
            events.append((match.start(), rest))
    events.extend((m.start(), m.group(1)) for m in _JINJA_EXPR.finditer(template))

    for _, expression in sorted(events):
        for name in _free_names(expression):
            if name not in local:
                found.setdefault(name, None)
    return list(found)


def _free_names(expression: str) -> list[str]:
    """Root names of a jinja2 expression: not attributes, filters, tests or keyword arguments."""
    text = _STRING_LITERAL.sub('""', expression)
    names: list[str] = []
    for match in _NAME.finditer(text):
        name = match.group(0)
        before = text[: match.start()].rstrip()
        after = text[match.end() :].lstrip()
        if name in _JINJA_RESERVED or before.endswith((".", "|")) or before.endswith(" is"):
            continue
        if after.startswith("=") and not after.startswith("=="):
            continue  # keyword argument name
        if match.start() > 0 and text[match.start() - 1].isdigit():
            continue
        names.append(name)
    return names
