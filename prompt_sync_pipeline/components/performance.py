"""The prompt performance view as a Dagster asset, materialized on demand.

It is ``<name>/prompt_performance``, in the instance's group but outside ``<name>_prompt_sync_job``:
it only reads Opik, so the nightly sync's lineage and schedule stay as they are, and the data team
refreshes it when they want to look.
"""

# No `from __future__ import annotations` here: Dagster reads the context annotation at import.
import dagster as dg

from ..performance import PerformanceReport, collect_performance
from ..performance.engine import paired_settings
from ..performance.render import to_markdown
from .failures import cli_messages
from .instance import PROMPT_PERFORMANCE, Instance
from .resources import PromptSyncResource

# Bump when the view's logic changes, so the UI can tell "code changed" from "data changed".
CODE_VERSION = "2"  # 2: composites paired item by item with the previous and the environment's


def build_asset(instance: Instance) -> dg.AssetsDefinition:
    @dg.asset(
        key=instance.key(PROMPT_PERFORMANCE),
        group_name=instance.group,
        kinds={"opik"},
        owners=list(instance.owners),
        tags=dict(instance.tags) or None,
        code_version=CODE_VERSION,
        pool=instance.pool,
    )
    def prompt_performance(
        context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
    ) -> dg.MaterializeResult:
        """Which version of each managed prompt won the team's Opik experiments.

        For every composite and individual prompt of the sync configuration: its versions in
        Opik (who created each: prompt-sync or someone else), the experiments that evaluated
        each version with their mean feedback scores, the best version per metric and how the
        current version moved against the previous one. The best score of each composite per
        metric is recorded as a number, so the asset page plots whether optimizing in Opik is
        paying off over time. Reads Opik only.
        """
        config = prompt_sync.load_config(instance)
        environment, level = paired_settings(config)
        with cli_messages(), prompt_sync.opik.connect(config.opik) as opik:
            report = collect_performance(
                config, opik, paired=True, environment=environment, level=level
            )
        context.log.info(
            "Opik requests: %d reads, %d retries", opik.stats.reads, opik.stats.retries
        )
        table = dg.MetadataValue.md(to_markdown(report))
        if report.failed:
            # A partial table would silently leave gaps in the plotted best scores: fail.
            reasons = "; ".join(f"{p.name}: {p.error}" for p in report.failed)
            raise dg.Failure(
                description=f"Opik reads failed for {len(report.failed)} prompt(s): {reasons}",
                metadata={"performance": table},
            )
        return dg.MaterializeResult(metadata={"performance": table, **numeric_metadata(report)})

    return prompt_performance


def numeric_metadata(report: PerformanceReport) -> dict[str, dg.MetadataValue]:
    """Counts, and per composite and metric the best version's score (``best_<metric>/<composite>``)."""
    metadata: dict[str, dg.MetadataValue] = {
        "experiments": dg.MetadataValue.int(sum(p.experiment_count for p in report.prompts)),
        "prompts_without_experiments": dg.MetadataValue.int(
            sum(1 for p in report.prompts if p.status in ("no_experiments", "not_in_opik"))
        ),
    }
    for prompt in report.prompts:
        if prompt.kind != "composite":
            continue
        for metric in sorted(prompt.best):
            best = prompt.best_score(metric)
            if best is not None:
                metadata[f"best_{metric}/{prompt.name}"] = dg.MetadataValue.float(best)
        for name, value in prompt.paired_numbers().items():  # e.g. delta_vs_previous_accuracy
            metadata[f"{name}/{prompt.name}"] = dg.MetadataValue.float(value)
    return metadata
