"""``production_not_behind``: does production (the environment ``promotion.environment`` names)
hold a composite version that scores below the newest version that has experiments?

A separate ``@asset_check`` on ``<name>/pushed_composites``. Selecting the instance's assets
would make it a step of ``<name>_prompt_sync_job``; the job leaves it out, because it reads every
composite's versions and experiments, and the nightly sync keeps its one read per composite and
its outcome independent of the experiments listing. It runs in ``<name>_production_check_job``
and from the asset's Checks tab. It only warns: which version production holds is the team's
decision.
"""

# No `from __future__ import annotations` here: Dagster reads the annotations at import.
from typing import TYPE_CHECKING

import dagster as dg

from ..promotion.lag import EnvironmentLag, environment_lag
from .failures import cli_messages
from .instance import PUSHED_COMPOSITES, Instance
from .resources import PromptSyncResource
from .run_tags import job_tags

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition as AssetJob,
    )

PRODUCTION_NOT_BEHIND = "production_not_behind"


def build_check(instance: Instance) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=instance.key(PUSHED_COMPOSITES),
        name=PRODUCTION_NOT_BEHIND,
        description="WARN when the version of a composite that Opik's production environment "
        "(promotion.environment) points to scores below the newest version that has "
        "experiments (same metric, same datasets): a winner waits for its promotion.",
        pool=instance.pool,
    )
    def production_not_behind(prompt_sync: PromptSyncResource) -> dg.AssetCheckResult:
        config = prompt_sync.load_config(instance)
        with cli_messages(), prompt_sync.opik.connect(config.opik) as opik:
            lags = environment_lag(config, opik, config.promotion.environment)
        return lag_result(lags, config.promotion.environment)

    return production_not_behind


def lag_result(lags: list[EnvironmentLag], environment: str) -> dg.AssetCheckResult:
    behind = [lag for lag in lags if lag.behind]
    failed = [lag for lag in lags if lag.failed]
    if behind:
        description = f"{environment} is behind on " + ", ".join(
            f"{lag.composite} ({lag.environment_version}; {lag.newest_scored} scores higher)"
            for lag in behind
        )
    elif failed:
        description = "Could not read " + ", ".join(lag.composite for lag in failed)
    else:
        description = f"No composite's {environment} version scores below a newer scored version."
    return dg.AssetCheckResult(
        passed=not behind and not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "behind_composites": dg.MetadataValue.json(sorted(lag.composite for lag in behind)),
            "behind": dg.MetadataValue.int(len(behind)),
            "table": dg.MetadataValue.md(lag_table(lags, environment)),
        },
    )


def lag_table(lags: list[EnvironmentLag], environment: str) -> str:
    rows = [
        f"| Composite | {environment} | Newest scored | Behind on | Note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for lag in lags:
        behind = ", ".join(
            f"{metric} {held:.4f} < {newest:.4f}"
            for metric, (held, newest) in sorted(lag.behind.items())
        )
        note = lag.note.replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| `{lag.composite}` | {lag.environment_version or '—'} | "
            f"{lag.newest_scored or '—'} | {behind or '—'} | {note} |"
        )
    return "\n".join(rows)


def build_job(instance: Instance) -> "AssetJob":
    check = dg.AssetCheckKey(instance.key(PUSHED_COMPOSITES), PRODUCTION_NOT_BEHIND)
    return dg.define_asset_job(
        instance.production_check_job,
        selection=dg.AssetSelection.checks(check),
        description=f"Is {instance.name}'s production behind a newer composite version that "
        "scores higher?",
        tags=job_tags(instance),
        executor_def=dg.in_process_executor,
    )
