"""The team's sync configuration: one YAML file, validated at the edge."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal
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

if TYPE_CHECKING:
    from .charter import Charter

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
    _users: tuple[dict[str, CompositeSpec], dict[str, list[str]]] | None = PrivateAttr(None)

    @field_validator("schedule_timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        # Checked here so `sync`, `run-now` and the schedule all refuse it alike.
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Paris"
            ) from None
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


def check_charter(config: SyncConfig, charter: Charter) -> None:
    """The composite table against the charter: every part a prompt of the charter, one template
    type per composite. Raises ``ConfigError`` (nothing read from Opik, nothing written)."""
    for name, spec in config.composites.items():
        missing = [p for p in spec.parts().values() if p not in charter]
        if missing:
            raise ConfigError(
                f"composite {name!r} uses {', '.join(map(repr, missing))}, "
                f"not in the charter {config.charter}"
            )
        types = {charter[p].type for p in spec.parts().values()}
        if len(types) > 1:
            raise ConfigError(
                f"composite {name!r} mixes template types {sorted(types)}; "
                "its parts must share one type"
            )


def resolve_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file named on the command line, else by ``PROMPT_SYNC_CONFIG``."""
    raw = explicit or os.environ.get(CONFIG_ENV_VAR)
    if not raw:
        raise ConfigError(f"no configuration: pass --config PATH or set {CONFIG_ENV_VAR}")
    return Path(raw).expanduser()


def load_config(path: str | os.PathLike[str] | None = None) -> SyncConfig:
    config_path = resolve_config_path(path)
    if config_path.is_dir():
        raise ConfigError(f"{config_path}: is a directory; give the path of prompt_sync.yaml")
    try:
        # The C loader when PyYAML has it: a table of thousands of composites loads in a blink.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with collector_paused():
            raw = yaml.load(config_path.read_text(encoding="utf-8"), Loader=loader)
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: cannot read the configuration: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{config_path}: not valid YAML: {exc}") from None
    if raw is None:
        raise ConfigError(f"{config_path}: the configuration file is empty")
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping at the top level")
    try:
        with collector_paused():
            config = SyncConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{config_path}: {_describe(exc)}") from None
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


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        problems.append(f"{key}: {error['msg']}")
    return "; ".join(problems)
