"""``<name>_prompt_resolve_job``: settle a conflict where the team sees it, from the launchpad.

The whole sync (the same four assets as ``<name>_prompt_sync_job``), with the choices of the
CLI's ``--keep-opik`` / ``--keep-charter`` as run config, in the same spelling (``PROMPT``,
``COMPOSITE`` or ``PROMPT=COMPOSITE``) and checked by the same ``sync.resolutions.parse``::

    keep_opik: ["forseti.persona=forseti-persona-category"]
    keep_charter: []
    dry_run: false

A conflict's failure names this job and gives the run config to paste
(``sync.messages.Fixes`` words it so for a Dagster run).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg

from .instance import Instance
from .resources import RESOURCE_KEY
from .run_tags import job_tags
from .schedules import sync_selection

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition as AssetJob,
    )

CONFIG_SCHEMA = {
    "keep_opik": dg.Field(
        [str],
        default_value=[],
        description="Opik's text wins: PROMPT, COMPOSITE (all its parts) or PROMPT=COMPOSITE "
        "(that composite's version of a shared prompt), as the CLI's --keep-opik.",
    ),
    "keep_charter": dg.Field(
        [str],
        default_value=[],
        description="The charter's text wins: PROMPT, or COMPOSITE (its rebuild replaces Opik's "
        "version, also a malformed one), as the CLI's --keep-charter.",
    ),
    "dry_run": dg.Field(
        bool, default_value=False, description="Plan and report the resolution; write nothing."
    ),
}


@dg.config_mapping(config_schema=CONFIG_SCHEMA)
def resolutions_to_resource(choices: dict[str, Any]) -> dict[str, Any]:
    """The launchpad's three fields, as the ``prompt_sync`` resource's configuration."""
    return {"resources": {RESOURCE_KEY: {"config": dict(choices)}}}


def build_job(instance: Instance) -> AssetJob:
    return dg.define_asset_job(
        instance.resolve_job,
        selection=sync_selection(instance),
        config=resolutions_to_resource,
        description=f"Resolve a conflict of {instance.name} and sync: run config keep_opik / "
        "keep_charter, with the names the failed run printed (PROMPT, COMPOSITE or "
        "PROMPT=COMPOSITE), as the CLI's --keep-opik / --keep-charter.",
        tags=job_tags(instance),
        executor_def=dg.in_process_executor,
    )
