"""The team's sync configuration: one YAML file, validated at the edge."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import UsageError
from ..opik.settings import OpikSettings, Strict
from .bulk import collector_paused
from .validation import describe

CONFIG_ENV_VAR = "PROMPT_SYNC_CONFIG"
# forseti_charter.json -> forseti_charter.sync-state.json, in the same directory.
STATE_SUFFIX = ".sync-state.json"


class ConfigError(UsageError):
    """The configuration file is missing or invalid. Nothing was changed."""


Role = Literal["system", "user"]


class CompositeSpec(Strict):
    """A composite chat prompt: which individual prompt fills each message."""

    system_prompt: str
    user_prompt: str

    def parts(self) -> dict[str, str]:
        return {"system": self.system_prompt, "user": self.user_prompt}

    def roles(self) -> tuple[tuple[Role, str], tuple[Role, str]]:
        return (("system", self.system_prompt), ("user", self.user_prompt))


class GitAuthor(Strict):
    name: str = Field(min_length=1)
    email: str = Field(min_length=3)


class GitSettings(Strict):
    """Git delivery (``prompt_sync_pipeline/delivery``): bring the charter's checkout up to date
    before a run, and commit (and push) what the run changed in the charter and its state file."""

    repository: Path | None = None  # default: the git work tree that holds the charter
    remote: str = Field(default="origin", min_length=1)
    base_branch: str | None = None  # default: the checkout's current branch
    update_before_run: bool = True
    deliver: Literal["none", "commit", "branch"] = "commit"
    branch: str = Field(default="prompt-sync/{date}", pattern=r"^[A-Za-z0-9._/{}-]+$")
    author: GitAuthor | None = None  # default: git's own identity in the checkout

    @model_validator(mode="after")
    def _branch_template(self) -> GitSettings:
        try:
            self.branch.format(date="2000-01-01")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                f"git.branch {self.branch!r}: the only placeholder is {{date}}"
            ) from None
        return self


class SensorSettings(Strict):
    """The ``opik_prompt_changes`` sensor: how often it lists Opik's prompts, and what a new
    composite version starts (the pull only, or the whole sync). Switched on in Dagster's UI."""

    interval_seconds: int = Field(default=300, ge=30, le=86400)
    run_pushes: bool = False


class PromotionSettings(Strict):
    """``promote``'s defaults, and the opt-in gate that promotes by itself (``auto``): when the
    ``opik_prompt_changes`` sensor sees a finished experiment on a composite's version, it
    promotes that version to ``environment`` if the paired gate passes.

    The one place these defaults are written: ``promote``, its Dagster op, the performance view,
    the auto gate and the ``production_not_behind`` check all read them from
    ``SyncConfig.promotion`` (the defaults below when the configuration has no ``promotion:``).
    """

    environment: str = Field(default="production", min_length=1)
    metric: str | None = None  # default: the only metric both versions were scored on
    min_delta: float = 0.0  # the margin the interval's lower bound must clear
    level: float = Field(default=0.95, ge=0.5, lt=1)  # the confidence interval's
    min_items: int = Field(default=30, ge=2)  # paired dataset items at least
    auto: bool = False


class SyncConfig(Strict):
    """Validated configuration, with the charter path resolved against the config file."""

    charter: Path
    opik: OpikSettings
    composites: dict[str, CompositeSpec] = Field(min_length=1)
    # Which side wins when a composite and the charter differ and no base was ever recorded.
    first_contact: Literal["conflict", "charter", "opik"] = "conflict"
    lock_timeout_seconds: float = Field(default=30.0, ge=0, le=3600)
    schedule_timezone: str = "UTC"
    git: GitSettings | None = None  # absent: the run never touches git
    sensor: SensorSettings = SensorSettings()
    promotion: PromotionSettings = PromotionSettings()  # absent: the defaults, auto off
    _users: tuple[dict[str, CompositeSpec], dict[str, list[str]]] | None = PrivateAttr(None)

    @field_validator("sensor", "promotion", mode="before")
    @classmethod
    def _empty_section_is_the_defaults(cls, value: object) -> object:
        # `promotion:` with nothing (or only comments) under it is YAML's null.
        return {} if value is None else value

    @field_validator("schedule_timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        # Checked here so `sync`, `run-now` and the schedule all refuse it alike.
        problem = timezone_problem(name)
        if problem:
            raise ValueError(problem)
        return name

    @model_validator(mode="after")
    def _parts_differ(self) -> SyncConfig:
        for name, spec in self.composites.items():
            if spec.system_prompt == spec.user_prompt:
                raise ValueError(
                    f"composite {name!r} uses {spec.system_prompt!r} for both messages"
                )
        self._index_users()  # here, so equal tables always compare equal
        return self

    @property
    def state_path(self) -> Path:
        """The sync state file beside the charter (committed to git with it)."""
        return self.charter.with_name(self.charter.stem + STATE_SUFFIX)

    def individual_names(self) -> set[str]:
        return {part for spec in self.composites.values() for part in spec.parts().values()}

    def composites_using(self, prompt_name: str) -> list[str]:
        """The composites that use the prompt, in table order (an index: each step asks for
        each of up to 10,000 composites)."""
        return list(self._index_users().get(prompt_name, ()))

    def _index_users(self) -> dict[str, list[str]]:
        if self._users is None or self._users[0] is not self.composites:  # a copy's new table
            users: dict[str, list[str]] = {}
            for name, spec in self.composites.items():
                for prompt in spec.parts().values():
                    users.setdefault(prompt, []).append(name)
            self._users = (self.composites, users)
        return self._users[1]


def timezone_problem(name: str) -> str | None:
    """Why ``name`` can't be a schedule's time zone, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Paris"
    return None


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file named on the command line, else by ``PROMPT_SYNC_CONFIG``."""
    raw = explicit or os.environ.get(CONFIG_ENV_VAR)
    if not raw:
        raise ConfigError(f"no configuration: pass --config PATH or set {CONFIG_ENV_VAR}")
    return Path(raw).expanduser()


def load_config(path: str | os.PathLike[str] | None = None) -> SyncConfig:
    """The configuration in the YAML file ``path`` (else ``PROMPT_SYNC_CONFIG``), validated;
    raises ``ConfigError`` naming the file and every problem found in it."""
    config_path = resolve_config_path(path)
    raw = read_config_file(config_path)
    try:
        with collector_paused():
            config = SyncConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{config_path}: " + "; ".join(describe(exc, SyncConfig))) from None
    return resolved(config, config_path)


def read_config_file(config_path: Path) -> dict[str, Any]:
    """The YAML mapping in the file; ``ConfigError`` if it can't be read, is not YAML, holds a
    key twice (YAML would silently keep the last one) or is not a mapping."""
    if config_path.is_dir():
        raise ConfigError(f"{config_path}: is a directory; give the path of prompt_sync.yaml")
    try:
        text = config_path.read_text(encoding="utf-8")
        with collector_paused():
            raw = yaml.load(text, Loader=_StrictLoader)
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: cannot read the configuration: {exc}") from None
    except _DuplicateKey as exc:
        raise ConfigError(
            f"{config_path}: the key {exc.key!r} appears more than once (line {exc.line}); "
            "keep one copy (YAML would silently keep the last)"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML ({_where(exc)})") from None
    if raw is None:
        raise ConfigError(f"{config_path}: the configuration file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping at the top level")
    return raw


def resolved(config: SyncConfig, config_path: Path) -> SyncConfig:
    """Paths in the configuration, resolved against the file's directory."""
    charter = (
        config.charter if config.charter.is_absolute() else config_path.parent / config.charter
    )
    config = config.model_copy(update={"charter": charter.resolve()})
    if config.git and config.git.repository and not config.git.repository.is_absolute():
        repository = (config_path.parent / config.git.repository).resolve()
        config = config.model_copy(
            update={"git": config.git.model_copy(update={"repository": repository})}
        )
    return config


# The C loader when PyYAML has it: a table of thousands of composites loads in a blink. Its
# constructor is Python's, so refusing a duplicate key costs one set per mapping.
if TYPE_CHECKING:
    _Loader = yaml.SafeLoader
else:
    _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


class _StrictLoader(_Loader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise _DuplicateKey(key_node.value, key_node.start_mark.line + 1)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _where(exc: yaml.YAMLError) -> str:
    """Where and what, without PyYAML's ``in "<unicode string>"`` (the caller names the file)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or exc.context or "syntax error"
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(exc)
