"""``promote`` and ``rollback`` as Dagster ops, each in its own job per instance
(``<name>_prompt_promote_job``, ``<name>_prompt_rollback_job``), for the data team's UI.

They call the same ``promotion.Releaser`` as ``prompt-sync promote`` / ``rollback``. The run
config names the composite, the environment, the version and (promote) the metric; the op's
output carries the decision and both scores as metadata. A refusal fails the run, with the same
metadata and the reason, so nothing moved is never shown as a success.
"""

# No `from __future__ import annotations` here: Dagster reads the annotations at import.
from typing import Any

import dagster as dg
from pydantic import Field

from ..promotion import Releaser, ReleaseResult
from ..promotion.cli import render
from ..promotion.gate import GATES
from ..promotion.requests import Promotion, Rollback
from ..sync.config import PromotionSettings
from .failures import cli_messages
from .instance import Instance
from .resources import PromptSyncResource
from .run_tags import job_tags

DEFAULTS = PromotionSettings()  # what the configuration's promotion: leaves out


class PromoteConfig(dg.Config):
    composite: str = Field(description="The composite to promote, as named in the configuration.")
    environment: str | None = Field(
        default=None,
        description="The Opik environment; empty: promotion.environment "
        f"(default {DEFAULTS.environment}).",
    )
    version: str | None = Field(
        default=None, description="vN to promote; empty: the charter's current composite."
    )
    metric: str | None = Field(
        default=None,
        description="Feedback score to compare; empty: promotion.metric, else the only one both "
        "share.",
    )
    min_delta: float | None = Field(
        default=None,
        description=f"Margin to beat; empty: promotion.min_delta (default {DEFAULTS.min_delta:g}).",
    )
    gate: str | None = Field(default=None, description=f"{' or '.join(GATES)}; empty: {GATES[0]}.")
    level: float | None = Field(
        default=None,
        description=f"Interval's level; empty: promotion.level (default {DEFAULTS.level:g}).",
    )
    min_items: int | None = Field(
        default=None,
        description="Paired items at least; empty: promotion.min_items "
        f"(default {DEFAULTS.min_items}).",
    )
    force: bool = Field(default=False, description="Promote whatever the gate says.")
    dry_run: bool = Field(default=False, description="Decide and report; move nothing.")


class RollbackConfig(dg.Config):
    composite: str = Field(description="The composite to roll back.")
    environment: str | None = Field(
        default=None,
        description="Move this environment back; empty: restore the version as the newest.",
    )
    version: str | None = Field(
        default=None,
        description="vN to go back to; empty: where the environment pointed before the last "
        "promotion, or (no environment) the previous version.",
    )
    dry_run: bool = Field(default=False, description="Say what would move; move nothing.")


def build_jobs(instance: Instance) -> list[dg.JobDefinition]:
    """The instance's promote and rollback jobs, each one op in the instance's Opik pool."""

    @dg.op(
        name=instance.promote_op,
        out=dg.Out(dg.Nothing),
        tags={"kind": "opik"},
        pool=instance.pool,
    )
    def promote(
        context: dg.OpExecutionContext, config: PromoteConfig, prompt_sync: PromptSyncResource
    ) -> dg.Output[None]:
        """Point an Opik environment at a composite version only if it won its experiments."""
        return _release(
            context,
            instance,
            prompt_sync,
            Promotion(**config.model_dump()),
        )

    @dg.op(
        name=instance.rollback_op,
        out=dg.Out(dg.Nothing),
        tags={"kind": "opik"},
        pool=instance.pool,
    )
    def rollback(
        context: dg.OpExecutionContext, config: RollbackConfig, prompt_sync: PromptSyncResource
    ) -> dg.Output[None]:
        """Move an environment back, or restore an earlier version as the newest one."""
        return _release(
            context,
            instance,
            prompt_sync,
            Rollback(
                config.composite,
                to=config.version,
                environment=config.environment,
                dry_run=config.dry_run,
            ),
        )

    @dg.job(
        name=instance.promote_job,
        executor_def=dg.in_process_executor,
        tags=job_tags(instance),
        description=f"Promote a composite version of {instance.name} to an Opik environment, "
        "gated on its experiment scores.",
    )
    def prompt_promote_job():
        promote()

    @dg.job(
        name=instance.rollback_job,
        executor_def=dg.in_process_executor,
        tags=job_tags(instance),
        description=f"Roll an Opik environment of {instance.name} back, or restore an earlier "
        "composite version as the newest.",
    )
    def prompt_rollback_job():
        rollback()

    return [prompt_promote_job, prompt_rollback_job]


def _release(
    context: dg.OpExecutionContext,
    instance: Instance,
    prompt_sync: PromptSyncResource,
    request: Promotion | Rollback,
) -> dg.Output[None]:
    config = prompt_sync.load_config(instance)
    with cli_messages(), prompt_sync.opik.connect(config.opik) as opik:
        result = Releaser(config, opik, prompt_sync.fixes(instance)).carry_out(request)
    metadata = release_metadata(result)
    if not result.ok:
        # What `prompt-sync promote` prints for the refusal, whole: the evidence and the notes.
        raise dg.Failure(description=render(result), metadata=metadata)
    context.log.info(render(result))
    return dg.Output(None, metadata=metadata)


def release_metadata(result: ReleaseResult) -> dict[str, Any]:
    """The decision, where the environment points now and before, and both scores."""
    metadata: dict[str, Any] = {
        "decision": dg.MetadataValue.text(result.outcome),
        "message": dg.MetadataValue.md("  \n".join([result.message, *result.details])),
        "composite": dg.MetadataValue.text(result.composite),
        "version": dg.MetadataValue.text(result.version or ""),
        "previous": dg.MetadataValue.text(result.previous or ""),
    }
    if result.environment:
        metadata["environment"] = dg.MetadataValue.text(result.environment)
    comparison = result.comparison
    if comparison is not None:
        metadata["metric"] = dg.MetadataValue.text(comparison.metric or "")
        metadata["comparison"] = dg.MetadataValue.json(comparison.to_json())
    if result.gate:
        metadata["gate"] = dg.MetadataValue.text(result.gate)
    if result.paired is not None:
        metadata["paired"] = dg.MetadataValue.json(result.paired.to_json())
    for name, number in result.numbers().items():  # numbers: plotted over time
        metadata[name] = (
            dg.MetadataValue.int(number)
            if isinstance(number, int)
            else dg.MetadataValue.float(number)
        )
    if result.notes:
        metadata["notes"] = dg.MetadataValue.json(list(result.notes))
    return metadata
