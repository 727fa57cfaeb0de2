"""``production_not_behind``: does production hold a composite version that scores below the
newest version that has experiments?

A separate ``@asset_check`` on ``pushed_composites``: it reads Opik's experiments, not the run's
sync, so it runs as its own step after the pushes in ``prompt_sync_job`` (which selects the group
with its checks) and can be run alone from the asset's page. It only warns: a production pointer
is the team's decision, and its read failures are reported in its result, never as a failed run.
"""

# No `from __future__ import annotations` here: Dagster reads the annotations at import.
import dagster as dg

from ..promotion.lag import EnvironmentLag, environment_lag
from .resources import PromptSyncResource

ENVIRONMENT = "production"


@dg.asset_check(
    asset="pushed_composites",
    name="production_not_behind",
    description="WARN when the version of a composite that Opik's production environment points "
    "to scores below the newest version that has experiments (same metric, same datasets): "
    "a winner waits for `prompt-sync promote`.",
)
def production_not_behind(prompt_sync: PromptSyncResource) -> dg.AssetCheckResult:
    config = prompt_sync.load_config()
    with prompt_sync.opik.connect(config.opik) as gateway:
        lags = environment_lag(config, gateway, ENVIRONMENT)
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
