"""``PromptSyncComponent``: one charter's sync, added to a team's Dagster project with
``dg scaffold defs prompt_sync_pipeline.PromptSyncComponent NAME``.

Its attributes (``defs/NAME/defs.yaml``) point at the charter's configuration file, the same file
the CLI reads, plus only what is Dagster's: the schedule, the sensor, owners, tags and the Opik
concurrency pool. Opik's address and credentials stay in the environment (``OPIK_URL_OVERRIDE``,
``OPIK_WORKSPACE``, ``OPIK_API_KEY``), read when a run starts.

Loading an instance reads its configuration and charter, and refuses what can be refused without
Opik (an unknown time zone, a composite naming a prompt the charter lacks): ``dg check defs``
fails on them. It never talks to Opik and never imports the Opik SDK.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import dagster as dg
from pydantic import Field

from ..errors import UsageError
from ..opik.settings import OPIK_WORKSPACE_VAR
from ..sync.config import timezone_problem
from .build import build_instance_defs
from .instance import (
    DEFAULT_CRON,
    DEFAULT_OWNERS,
    Instance,
    InstanceError,
    check_name,
    validated_config,
)
from .scaffold import PromptSyncScaffolder

DEFAULT_WORKSPACE = "default"  # the Opik SDK's workspace when OPIK_WORKSPACE is unset


def default_pool() -> str:
    """``opik-<workspace>``: every instance that talks to one Opik workspace shares its budget."""
    return f"opik-{os.environ.get(OPIK_WORKSPACE_VAR) or DEFAULT_WORKSPACE}"


class ScheduleAttributes(dg.Resolvable, dg.Model):
    """The instance's daily run."""

    cron: Annotated[
        str, Field(description="When the sync runs (cron); the default is midnight.")
    ] = DEFAULT_CRON
    timezone: Annotated[
        str | None,
        Field(
            description="IANA time zone of the cron; empty: the configuration's schedule_timezone."
        ),
    ] = None
    running: Annotated[
        bool, Field(description="On when the code location is deployed (the UI's toggle wins).")
    ] = True


class SensorAttributes(dg.Resolvable, dg.Model):
    """The sensor that pulls new Opik versions between midnights."""

    running: Annotated[
        bool, Field(description="On when deployed; off by default (switch it on in the UI).")
    ] = False
    interval_seconds: Annotated[
        int | None,
        Field(
            ge=30,
            le=86400,
            description="How often it lists the Opik project; empty: the configuration's "
            "sensor.interval_seconds.",
        ),
    ] = None


@dg.scaffold_with(PromptSyncScaffolder)
class PromptSyncComponent(dg.Component, dg.Model, dg.Resolvable):
    """Keeps one prompt charter (a JSON file in git) and its Opik project in step, both ways:
    four assets under the instance's name, its checks, the nightly job and schedule, a sensor for
    new Opik versions, and jobs to resolve conflicts, promote, roll back and check production."""

    config: Annotated[
        str,
        Field(
            description="Path of the charter's prompt_sync.yaml (the file the prompt-sync CLI "
            "reads), relative to this defs.yaml's folder or absolute."
        ),
    ]
    name: Annotated[
        str | None,
        Field(
            description="The instance's name: asset key prefix, group, and the prefix of its jobs, "
            "schedule and sensor. Empty: the name of this defs.yaml's folder."
        ),
    ] = None
    schedule: ScheduleAttributes = ScheduleAttributes()
    sensor: SensorAttributes = SensorAttributes()
    owners: Annotated[
        list[str],
        Field(description="Owners of the assets and jobs: e-mail addresses or team:NAME."),
    ] = list(DEFAULT_OWNERS)
    tags: Annotated[
        dict[str, str], Field(description="Tags on the instance's assets, jobs and runs.")
    ] = {}
    pool: Annotated[
        str | None,
        Field(
            description="Concurrency pool of the steps that talk to Opik. Empty: "
            "opik-<OPIK_WORKSPACE> (opik-default without it), shared by every instance of the "
            "workspace; dagster.yaml (concurrency: pools) sets its limit."
        ),
    ] = None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_instance_defs(self.instance(context.path))

    def instance(self, folder: Path) -> Instance:
        """The instance this component defines, its configuration checked (never Opik)."""
        name = check_name(self.name or folder.name, str(folder / "defs.yaml"))
        config_path = Path(os.path.expanduser(self.config))
        if not config_path.is_absolute():
            config_path = folder / config_path
        try:
            config = validated_config(config_path.resolve())
        except UsageError as exc:
            raise InstanceError(f"prompt-sync instance {name!r}: {exc}") from None
        timezone = self.schedule.timezone or config.schedule_timezone
        return Instance(
            name=name,
            config_path=config_path.resolve(),
            timezone=_known_timezone(timezone, name),
            cron=self.schedule.cron,
            schedule_running=self.schedule.running,
            sensor_running=self.sensor.running,
            sensor_interval_seconds=self.sensor.interval_seconds or config.sensor.interval_seconds,
            owners=tuple(self.owners),
            tags=dict(self.tags),
            pool=self.pool or default_pool(),
        )


def _known_timezone(name: str, instance: str) -> str:
    problem = timezone_problem(name)
    if problem:
        raise InstanceError(f"prompt-sync instance {instance!r}: schedule.timezone: {problem}")
    return name
