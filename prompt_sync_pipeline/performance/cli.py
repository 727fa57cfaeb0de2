"""``prompt-sync performance``: experiment scores per prompt version, as a table or as JSON.

Exit status: 0 when every prompt was read, 1 when Opik refused or failed a read (the server's
message goes to stderr; the prompts that were read are still printed), 2 for an unknown prompt.

``--json`` prints::

    {"project": str, "metric": str | null,
     "environment": str | null, "level": float | null,   # what composites were paired against
     "prompts": [{"name", "kind": "composite" | "individual",
                  "status": "ok" | "no_experiments" | "not_in_opik" | "failed", "error": str | null,
                  "current_version": "vN" | null, "previous_version": "vN" | null,
                  "versions": [{"version": "vN", "id", "commit", "created_at": ISO 8601 | null,
                                "created_by_tool": bool, "environments": [str],
                                "experiments": [{"name", "id", "dataset", "trace_count",
                                                 "created_at", "scores": {metric: mean}}],
                                "scores": {metric: mean}}],   # newest version first
                  "best": {metric: "vN"},
                  "current_vs_previous": {metric: delta},
                  "paired": [{"against": "previous" | ENV, "candidate": "vN",
                              "other": "vN" | null,
                              "comparisons": {metric: {"n_paired", "candidate_mean",
                                  "current_mean", "mean_difference", "standard_deviation",
                                  "standard_error", "interval": [low, high] | null, "level",
                                  "gains", "losses", "unpaired", "datasets", "metric"}}}],
                  # composites only: the current version minus the other, item by item
                  "unlisted_experiments": int}]}
"""

from __future__ import annotations

import json
import sys

from ..errors import ExitCode, UsageError
from ..opik.project import OpikProject
from ..sync.config import SyncConfig
from .engine import collect_performance, paired_settings
from .paired import check_level
from .render import write_text


def show_performance(
    config: SyncConfig,
    *,
    prompt: str | None = None,
    metric: str | None = None,
    as_json: bool = False,
    environment: str | None = None,
    level: float | None = None,
) -> int:
    environment, level = paired_settings(config, environment, level)
    try:
        check_level(level)
    except ValueError as exc:
        raise UsageError(f"--level: {exc}") from None
    with OpikProject.connect(config.opik) as opik:
        # An unknown --prompt (UnknownPrompt, exit 2) is left to the command line.
        report = collect_performance(
            config,
            opik,
            prompt=prompt,
            metric=metric,
            paired=True,
            environment=environment,
            level=level,
        )
    if as_json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        write_text(report, sys.stdout)
    for failed in report.failed:
        print(f"prompt-sync: {failed.name}: {failed.error}", file=sys.stderr)
    return ExitCode.FAILED if report.failed else ExitCode.OK
