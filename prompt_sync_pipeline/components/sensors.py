"""``<name>_opik_prompt_changes``: react to a new composite version in Opik between midnights.

Every few minutes (``sensor.interval_seconds``) it lists the instance's Opik project's prompts
once (the cheap check; no version is read) and, when a managed composite has a version the
charter's sync state has not seen, requests one run of ``<name>_prompt_sync_pull_job`` (or of
``<name>_prompt_sync_job`` with ``sensor.run_pushes: true``) with the run key
``<composite>@v<N>``. It is off until someone switches it on in the UI (or the component's
``sensor.running``). With ``promotion.auto``, the same tick also runs the auto gate
(``promotion.auto.auto_promotions``: one listing of the newest experiments) and requests
``<name>_prompt_promote_job`` for each version it passes. The Opik SDK is imported when the
sensor is evaluated, never when the code location loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import dagster as dg

from prompt_sync_pipeline.opik import RemotePrompt
from prompt_sync_pipeline.promotion.auto import auto_promotions, join_cursor, split_cursor
from prompt_sync_pipeline.sync.config import SyncConfig
from prompt_sync_pipeline.sync.state import load_state
from prompt_sync_pipeline.sync.watch import read_cursor, run_key, unseen_versions, write_cursor

from . import run_tags
from .failures import cli_messages
from .instance import LOCAL_INDIVIDUAL_PROMPTS, OPIK_COMPOSITES, Instance
from .resources import PromptSyncResource

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition as AssetJob,
    )

CHANGED_TAG = run_tags.PREFIX + "opik_versions"  # the new versions that started the run
_SHOWN = 10  # composites named in a skip reason


def build_pull_job(instance: Instance) -> AssetJob:
    return dg.define_asset_job(
        instance.pull_job,
        selection=dg.AssetSelection.assets(
            instance.key(OPIK_COMPOSITES), instance.key(LOCAL_INDIVIDUAL_PROMPTS)
        ),
        description=f"The pull only: bring the changes of {instance.name}'s composites in Opik "
        f"into the charter. Started by {instance.sensor} when a new composite version appears "
        "in Opik.",
        tags=run_tags.job_tags(instance),
        executor_def=dg.in_process_executor,
    )


def build_sensor(
    instance: Instance,
    *,
    pull_job: AssetJob,
    sync_job: AssetJob,
    promote_job: dg.JobDefinition,
) -> dg.SensorDefinition:
    interval_seconds = instance.sensor_interval_seconds
    promote_op = instance.promote_op

    @dg.sensor(
        name=instance.sensor,
        minimum_interval_seconds=interval_seconds,
        jobs=[pull_job, sync_job, promote_job],
        default_status=dg.DefaultSensorStatus.RUNNING
        if instance.sensor_running
        else dg.DefaultSensorStatus.STOPPED,
        description=f"Every {interval_seconds} s, one listing of {instance.name}'s Opik project: "
        "a composite with a version the charter's sync state has not seen starts one pull (run "
        "key <composite>@v<N>), or the whole sync with sensor.run_pushes; with promotion.auto, "
        "a version the auto gate passes starts its promotion.",
    )
    def opik_prompt_changes(
        context: dg.SensorEvaluationContext, prompt_sync: PromptSyncResource
    ) -> dg.SensorResult | dg.SkipReason:
        config = prompt_sync.load_config(instance)
        fixes = prompt_sync.fixes(instance)
        watched, gated = split_cursor(context.cursor)
        with cli_messages(), prompt_sync.opik.connect(config.opik) as opik:
            listing = opik.prompts.list_prompts()
            workspace = opik.workspace
            # promotion.auto: one more listing (the newest experiments); off: nothing.
            gate = auto_promotions(config, opik, gated, listing, fixes)
            state = load_state(
                config.state_path,
                workspace=workspace,
                project=config.opik.project_name,
                fixes=fixes,
            )
        requested = read_cursor(watched)
        unseen = unseen_versions(listing, config.composites, state, requested)
        requests = [
            dg.RunRequest(
                run_key=due.run_key,
                job_name=promote_job.name,
                run_config={"ops": {promote_op: {"config": due.op_config()}}},
                tags={
                    run_tags.TRIGGER_TAG: "sensor",
                    **due.tags(prefix=run_tags.PREFIX + "promotion_"),
                },
            )
            for due in gate.promotions
        ]
        for reason in gate.skipped:
            context.log.info(reason)
        if unseen:
            key = run_key(unseen)
            job = sync_job if config.sensor.run_pushes else pull_job
            seen = {**requested, **{n: (p.id, p.version_count) for n, p in unseen.items()}}
            watched = write_cursor(seen)
            requests.insert(
                0,
                dg.RunRequest(
                    run_key=key,
                    job_name=job.name,
                    tags={run_tags.TRIGGER_TAG: "sensor", CHANGED_TAG: key},
                ),
            )
        # Returned together: Dagster stores the cursor with the tick that made the request.
        cursor = join_cursor(watched, gate.cursor)
        if not requests:
            reason = " ".join([_nothing_new(config, listing, state is not None), *gate.skipped])
            return dg.SensorResult(skip_reason=reason, cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return opik_prompt_changes


def _nothing_new(config: SyncConfig, listing: Mapping[str, RemotePrompt], has_state: bool) -> str:
    listed = [f"{n}@v{listing[n].version_count}" for n in config.composites if n in listing]
    missing = len(config.composites) - len(listed)
    more = len(listed) - _SHOWN
    shown = ", ".join(listed[:_SHOWN]) + (f" and {more} more" if more > 0 else "")
    source = (
        f"the sync state {config.state_path.name} or this sensor's earlier requests"
        if has_state
        else f"this sensor's earlier requests (no sync state {config.state_path.name} yet)"
    )
    return (
        f"No new composite version in Opik project {config.opik.project_name}: one listing, "
        f"{len(listed)} managed composites ({shown or 'none'}) as already seen by {source}"
        + (f"; {missing} not in Opik yet" if missing else "")
        + "."
    )
