"""A configuration checked without Opik: the YAML file, the composite table against the charter,
the charter's prompts, the sync state file and the Opik address. Every problem is listed, not
only the first. ``prompt-sync check`` prints them; the Dagster code location can call
``check_offline`` when it loads.

Imports no Opik SDK, no HTTP client and no Dagster.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..opik.errors import url_problem
from ..opik.settings import OPIK_URL_VAR, OPIK_WORKSPACE_VAR
from . import composites as comp
from .charter import Charter, CharterError, load_charter
from .config import (
    CompositeSpec,
    ConfigError,
    SyncConfig,
    read_config_file,
    resolve_config_path,
    resolved,
)
from .messages import Fixes
from .state import StateError, load_state
from .validation import describe


@dataclass(frozen=True)
class Problem:
    """One problem, and the file (or variable) it is in."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class Checked:
    """What the check read (None where it couldn't) and every problem it found."""

    config_path: Path | None = None
    config: SyncConfig | None = None
    charter: Charter | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_offline(
    path: str | os.PathLike[str] | None = None,
    *,
    fixes: Fixes | None = None,
    environ: Mapping[str, str] | None = None,
) -> Checked:
    """Check the configuration file ``path`` (else ``PROMPT_SYNC_CONFIG``), the charter and the
    state file it names, and ``OPIK_URL_OVERRIDE``; nothing is written, Opik is not asked."""
    environ = os.environ if environ is None else environ
    fixes = fixes or Fixes()
    checked = Checked()
    url = environ.get(OPIK_URL_VAR)
    if url and (problem := url_problem(url)):
        checked.problems.append(Problem("environment", problem))
    try:
        checked.config_path = config_path = resolve_config_path(path)
        raw = read_config_file(config_path)
    except ConfigError as exc:
        checked.problems.insert(0, _split(exc, checked.config_path))
        return checked
    where = str(config_path)
    try:
        checked.config = config = resolved(SyncConfig.model_validate(raw), config_path)
    except ValidationError as exc:
        checked.problems += [Problem(where, p) for p in describe(exc, SyncConfig)]
        config = None
    charter_path = config.charter if config else _charter_path(raw, config_path)
    table = config.composites if config else _valid_composites(raw)
    if charter_path is not None:
        try:
            checked.charter = load_charter(charter_path)
        except CharterError as exc:
            checked.problems += [_split(exc, charter_path, p) for p in exc.problems]
    if checked.charter is not None:
        checked.problems += [Problem(where, p) for p in composite_problems(table, checked.charter)]
        checked.problems += [
            Problem(str(charter_path), p) for p in template_problems(checked.charter)
        ]
    if config is not None:
        checked.problems += state_problems(config, fixes, environ.get(OPIK_WORKSPACE_VAR))
    return checked


def composite_problems(table: Mapping[str, CompositeSpec], charter: Charter) -> list[str]:
    """Each composite's parts must be prompts of the charter (a mistyped name gets a close
    match) and share one template type."""
    problems = []
    known = sorted(charter.prompts)
    for name, spec in table.items():
        for role, prompt in spec.roles():
            if prompt not in charter:
                close = difflib.get_close_matches(prompt, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(
                    f"composites.{name}.{role}_prompt: {prompt!r} is not a prompt of the charter "
                    f"{charter.path.name}{hint}"
                )
        parts = [p for p in spec.parts().values() if p in charter]
        types = {charter[p].type for p in parts}
        if len(types) > 1:
            which = ", ".join(f"{p} is {charter[p].type}" for p in parts)
            problems.append(f"composites.{name}: its parts must share one template type ({which})")
    return problems


def template_problems(charter: Charter) -> list[str]:
    """Templates that don't parse in their own type (a jinja2 syntax error)."""
    problems = []
    for name, prompt in charter.prompts.items():
        try:
            comp.variables(prompt.template, prompt.type)
        except comp.MalformedComposite as exc:
            problems.append(f"prompt {name!r}: not a valid {prompt.type} template ({exc})")
    return problems


def state_problems(config: SyncConfig, fixes: Fixes, workspace: str | None) -> list[Problem]:
    """What keeps the state file beside the charter from being used by a run in ``workspace``
    (None: checked against no workspace yet, offline)."""
    try:
        load_state(
            config.state_path, workspace=workspace, project=config.opik.project_name, fixes=fixes
        )
    except StateError as exc:
        return [_split(exc, config.state_path)]
    return []


def _split(exc: Exception, path: Path | None, message: str | None = None) -> Problem:
    """A problem from an error whose message starts with its file's path."""
    text = str(exc) if message is None else message
    if path is not None and text.startswith(f"{path}: "):
        return Problem(str(path), text[len(f"{path}: ") :])
    return Problem(str(path) if path is not None else "configuration", text)


def _charter_path(raw: Mapping[str, object], config_path: Path) -> Path | None:
    """The charter a configuration that doesn't validate still names, to check it too."""
    charter = raw.get("charter")
    if not isinstance(charter, str) or not charter:
        return None
    path = Path(charter)
    return (path if path.is_absolute() else config_path.parent / path).resolve()


def _valid_composites(raw: Mapping[str, object]) -> dict[str, CompositeSpec]:
    """The entries of a composite table that validate on their own."""
    table = raw.get("composites")
    valid = {}
    for name, spec in table.items() if isinstance(table, dict) else ():
        try:
            valid[str(name)] = CompositeSpec.model_validate(spec)
        except ValidationError:
            continue
    return valid
