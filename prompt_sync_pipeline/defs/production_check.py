"""``production_not_behind``: does production hold a composite version that scores below the
newest version that has experiments?

A separate ``@asset_check`` on ``pushed_composites``. Selecting the group would make it a step
of ``prompt_sync_job``; the job leaves it out, because it reads every composite's versions and
experiments, and the nightly sync keeps its one read per composite and its outcome independent of
the experiments listing. It runs in ``production_check_job`` and from the asset's Checks tab. It
only warns: which version production holds is the team's decision.
"""

# No `from __future__ import annotations` here: Dagster reads the annotations at import.
import dagster as dg

from ..promotion.lag import EnvironmentLag, environment_lag
from .resources import PromptSyncResource

ENVIRONMENT = "production"
PRODUCTION_NOT_BEHIND = dg.AssetCheckKey(dg.AssetKey("pushed_composites"), "production_not_behind")


@dg.asset_check(
    asset="pushed_composites",
    name="production_not_behind",
    description="WARN when the version of a composite that Opik's production environment points "
    "to scores below the newest version that has experiments (same metric, same datasets): "
    "a winner waits for its promotion.",
)
def production_not_behind(prompt_sync: PromptSyncResource) -> dg.AssetCheckResult:
    config = prompt_sync.load_config()
    with prompt_sync.opik.connect(config.opik) as opik:
        lags = environment_lag(config, opik, ENVIRONMENT)
    behind = [lag for lag in lags if lag.behind]
    failed = [lag for lag in lags if lag.failed]
    if behind:
        description = f"{ENVIRONMENT} is behind on " + ", ".join(
            f"{lag.composite} ({lag.environment_version}; {lag.newest_scored} scores higher)"
            for lag in behind
        )
    elif failed:
        description = "Could not read " + ", ".join(lag.composite for lag in failed)
    else:
        description = f"No composite's {ENVIRONMENT} version scores below a newer scored version."
    return dg.AssetCheckResult(
        passed=not behind and not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "behind_composites": dg.MetadataValue.json(sorted(lag.composite for lag in behind)),
            "behind": dg.MetadataValue.int(len(behind)),
            "table": dg.MetadataValue.md(lag_table(lags)),
        },
    )


def lag_table(lags: list[EnvironmentLag]) -> str:
    rows = [
        f"| Composite | {ENVIRONMENT} | Newest scored | Behind on | Note |",
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


production_check_job = dg.define_asset_job(
    "production_check_job",
    selection=dg.AssetSelection.checks(PRODUCTION_NOT_BEHIND),
    description="Is production behind a newer composite version that scores higher?",
    executor_def=dg.in_process_executor,
)
