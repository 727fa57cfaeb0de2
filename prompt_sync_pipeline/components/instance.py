"""One charter in a Dagster code location: its name, and every Dagster name derived from it.

A ``PromptSyncComponent`` in ``defs/<name>/defs.yaml`` becomes one ``Instance``. Everything the
instance defines carries its name: the asset keys (``<name>/opik_composites``), the group
(``<name>``), the jobs (``<name>_prompt_sync_job``), the schedule, the sensor, the run tags and
the success key. Two instances never share a definition, a session, a charter lock or a state
file, so one of them failing leaves the others green.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ..sync.check import check_offline
from ..sync.config import ConfigError, SyncConfig, load_config

# The assets of one instance, in lineage order, and the on-demand performance view.
OPIK_COMPOSITES = "opik_composites"
LOCAL_INDIVIDUAL_PROMPTS = "local_individual_prompts"
PUSHED_INDIVIDUALS = "pushed_individuals"
PUSHED_COMPOSITES = "pushed_composites"
CHAIN = (OPIK_COMPOSITES, LOCAL_INDIVIDUAL_PROMPTS, PUSHED_INDIVIDUALS, PUSHED_COMPOSITES)
PROMPT_PERFORMANCE = "prompt_performance"

DEFAULT_OWNERS = ("team:data",)
DEFAULT_CRON = "0 0 * * *"
# Dagster names jobs, schedules, sensors and groups with this alphabet.
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class InstanceError(ValueError):
    """The instance can't be defined: a bad name, or a configuration or charter that can't be
    used. Raised while the code location loads, so ``dg check defs`` reports it."""


SYNC_JOB = "prompt_sync_job"  # each instance's is <name>_prompt_sync_job


@dataclass(frozen=True)
class Instance:
    """One charter's sync, as the code location defines it (no Opik access)."""

    name: str
    config_path: Path
    timezone: str
    cron: str = DEFAULT_CRON
    schedule_running: bool = True
    sensor_running: bool = False
    sensor_interval_seconds: int = 300
    owners: tuple[str, ...] = DEFAULT_OWNERS
    tags: Mapping[str, str] = field(default_factory=dict)
    pool: str = "opik-default"

    @property
    def group(self) -> str:
        return self.name

    def key(self, asset: str) -> dg.AssetKey:
        return dg.AssetKey([self.name, asset])

    @property
    def chain_keys(self) -> tuple[dg.AssetKey, ...]:
        return tuple(self.key(name) for name in CHAIN)

    def named(self, base: str) -> str:
        """A job, schedule, sensor or op name of this instance: ``<name>_<base>``."""
        return f"{self.name}_{base}"

    @property
    def sync_job(self) -> str:
        return self.named(SYNC_JOB)

    @property
    def pull_job(self) -> str:
        return self.named("prompt_sync_pull_job")

    @property
    def resolve_job(self) -> str:
        return self.named("prompt_resolve_job")

    @property
    def promote_job(self) -> str:
        return self.named("prompt_promote_job")

    @property
    def rollback_job(self) -> str:
        return self.named("prompt_rollback_job")

    @property
    def promote_op(self) -> str:
        return self.named("promote")

    @property
    def rollback_op(self) -> str:
        return self.named("rollback")

    @property
    def production_check_job(self) -> str:
        return self.named("production_check_job")

    @property
    def schedule(self) -> str:
        return self.named("prompt_sync_daily")

    @property
    def sensor(self) -> str:
        return self.named("opik_prompt_changes")

    def load_config(self) -> SyncConfig:
        """The configuration as it is now (a run reads it again: the team may have changed it)."""
        return load_config(self.config_path)


def check_name(name: str, source: str) -> str:
    if not NAME_PATTERN.match(name):
        suggestion = re.sub(r"\W", "_", name).lstrip("0123456789") or "charter"
        raise InstanceError(
            f"{source}: {name!r} can't name a prompt-sync instance (jobs, schedules and groups "
            f"are named after it): use letters, digits and underscores, e.g. {suggestion!r}"
        )
    return name


def validated_config(path: Path) -> SyncConfig:
    """What can be checked without Opik, as ``prompt-sync check`` checks it (``sync.check``):
    the configuration file, the charter it names (every composite's prompts in it, one template
    type, templates that parse), the state file and ``OPIK_URL_OVERRIDE``. Every problem is
    named, in one ``ConfigError``."""
    checked = check_offline(path)
    if checked.problems or checked.config is None:
        problems = [str(problem) for problem in checked.problems] or [f"{path}: not loaded"]
        if len(problems) == 1:
            raise ConfigError(problems[0])
        raise ConfigError(f"{len(problems)} problems: " + "; ".join(problems))
    return checked.config
