"""``prompt-sync promote`` and ``prompt-sync rollback``.

Exit status: 0 done (or nothing to do, nothing to roll back), 1 refused or Opik failed (nothing
moved), 2 bad usage (an unknown composite, version, environment or metric, or a metric to choose:
the message lists the valid names).

``--json`` prints ``ReleaseResult.to_json()``::

    {"action": "promote" | "rollback", "composite", "outcome", "ok", "message",
     "environment", "version", "previous",
     "gate": "paired" | "mean" | null, "metric_reason": str | null,
     "paired": null | {"verdict", "passes", "min_delta", "min_items", "items_needed",
                       "metric", "level", "n_paired", "candidate_mean", "current_mean",
                       "mean_difference", "standard_deviation", "standard_error",
                       "interval": [low, high] | null,
                       "gains" / "losses": [{"dataset", "dataset_item_id", "candidate",
                                             "current", "difference"}],   # five at most each
                       "unpaired": {"candidate", "current"}, "datasets"},
     "comparison": null | {"metric", "datasets", "min_delta", "required",
                           "candidate": {"version", "score", "experiments"},
                           "current": ... | null, "passes"},   # the experiment means
     "next_sync": null | {"composite", "version", "pulled", "reason",
                          "parts": [{"prompt", "role", "charter", "rolled_back", "adopted",
                                     "spreads_to"}],
                          "changes": [composite]},
     "details": [str], "notes": [str]}

``outcome`` is one of promoted, forced, would_promote, refused, unchanged, nothing_to_roll_back,
rolled_back, would_roll_back, restored, would_restore; ``paired.verdict`` one of passes,
nothing_to_beat, no_pairs, too_few_items, not_enough_evidence, not_better.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ..errors import ExitCode
from ..opik import OpikError
from ..opik.project import OpikProject
from ..sync.config import SyncConfig
from ..sync.messages import Fixes
from .engine import Releaser
from .gate import DEFAULT_MIN_ITEMS, GATES
from .models import ReleaseRefused, ReleaseResult, ReleaseUsageError

COMMANDS = {
    "promote": "point an Opik environment at a composite version that won its experiments",
    "rollback": "move an environment back, or restore an earlier version as the newest",
}


def add_arguments(command: argparse.ArgumentParser, name: str) -> None:
    command.add_argument("composite", metavar="COMPOSITE", help="a composite of the configuration")
    if name == "promote":
        command.add_argument(
            "--environment",
            metavar="ENV",
            help="default: promotion.environment in the configuration, else production",
        )
        command.add_argument(
            "--version", metavar="vN", help="default: the charter's current composite"
        )
        command.add_argument(
            "--metric",
            metavar="M",
            help="the feedback score to compare (default: promotion.metric, else the only one "
            "both versions were scored on)",
        )
        command.add_argument(
            "--min-delta",
            type=float,
            metavar="D",
            help="the margin to beat: the interval's lower bound (paired gate) or the mean "
            "(mean gate) must be above the current version's by D (default 0)",
        )
        command.add_argument(
            "--gate",
            choices=GATES,
            help="paired (default): item by item, with a confidence interval; mean: the "
            "experiments' means only, for experiments without per-item scores",
        )
        command.add_argument(
            "--level",
            type=float,
            metavar="L",
            help="the confidence interval's level (default 0.95)",
        )
        command.add_argument(
            "--min-items",
            type=int,
            metavar="N",
            help=f"paired dataset items needed at least (default {DEFAULT_MIN_ITEMS})",
        )
        command.add_argument(
            "--force", action="store_true", help="promote whatever the gate says (and say so)"
        )
        command.add_argument(
            "--dry-run", action="store_true", help="show the decision, move nothing"
        )
    else:
        command.add_argument(
            "--to", metavar="vN", help="the version to go back to (default: the previous one)"
        )
        command.add_argument(
            "--environment",
            metavar="ENV",
            help="move this environment back; without it, restore the version as the newest",
        )
        command.add_argument(
            "--dry-run",
            action="store_true",
            help="show what would move and what the next sync would do, change nothing",
        )


def run_release(config: SyncConfig, args: argparse.Namespace) -> int:
    def act(releaser: Releaser) -> ReleaseResult:
        if args.command == "promote":
            return releaser.promote(
                args.composite,
                args.environment,
                version=args.version,
                metric=args.metric,
                min_delta=args.min_delta,
                force=args.force,
                dry_run=args.dry_run,
                gate=args.gate,
                level=args.level,
                min_items=args.min_items,
            )
        return releaser.rollback(
            args.composite, to=args.to, environment=args.environment, dry_run=args.dry_run
        )

    return release(config, act, as_json=args.json, fixes=Fixes.for_config(args.config))


def release(
    config: SyncConfig,
    act: Callable[[Releaser], ReleaseResult],
    *,
    as_json: bool = False,
    fixes: Fixes | None = None,
) -> int:
    try:
        with OpikProject.connect(config.opik) as opik:
            result = act(Releaser(config, opik, fixes))
    except ReleaseUsageError as exc:
        print(f"prompt-sync: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except (ReleaseRefused, OpikError) as exc:
        print(f"prompt-sync: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    if as_json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render(result))
    return ExitCode.OK if result.ok else ExitCode.FAILED


def render(result: ReleaseResult) -> str:
    """The message, the evidence or what the next sync does, and the notes."""
    lines = [result.message]
    lines += [f"  {line}" for detail in result.details for line in detail.splitlines()]
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)
