"""``prompt-sync promote`` and ``prompt-sync rollback``.

Exit status: 0 done (or nothing to do), 1 refused or Opik failed (nothing moved), 2 bad usage
(an unknown composite, version, environment, or a metric to choose).

``--json`` prints ``ReleaseResult.to_json()``: ``{"action", "composite", "outcome", "ok",
"message", "environment", "version", "previous", "comparison": null | {"metric", "datasets",
"min_delta", "required", "candidate": {"version", "score", "experiments"}, "current": ... | null,
"passes"}, "notes"}``; ``outcome`` is one of promoted, forced, would_promote, refused, unchanged,
rolled_back, restored.
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
from .engine import Releaser
from .models import ReleaseRefused, ReleaseResult, ReleaseUsageError, describe_side

COMMANDS = {
    "promote": "point an Opik environment at a composite version that won its experiments",
    "rollback": "move an environment back, or restore an earlier version as the newest",
}


def add_arguments(command: argparse.ArgumentParser, name: str) -> None:
    command.add_argument("composite", metavar="COMPOSITE", help="a composite of the configuration")
    if name == "promote":
        command.add_argument("--environment", required=True, metavar="ENV", help="e.g. production")
        command.add_argument(
            "--version", metavar="vN", help="default: the charter's current composite"
        )
        command.add_argument(
            "--metric",
            metavar="M",
            help="the feedback score to compare (default: the only one both have)",
        )
        command.add_argument(
            "--min-delta",
            type=float,
            default=0.0,
            metavar="D",
            help="required margin over the environment's current version (default 0)",
        )
        command.add_argument(
            "--force", action="store_true", help="promote whatever the scores say (and say so)"
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
            )
        return releaser.rollback(args.composite, to=args.to, environment=args.environment)

    return release(config, act, as_json=args.json)


def release(
    config: SyncConfig, act: Callable[[Releaser], ReleaseResult], *, as_json: bool = False
) -> int:
    try:
        with OpikProject.connect(config.opik) as opik:
            result = act(Releaser(config, opik))
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
    lines = [result.message]
    comparison = result.comparison
    if comparison is not None and result.outcome != "refused":
        if comparison.current is None:
            lines.append(f"  {result.environment} held no version before: nothing to beat")
        elif comparison.metric is not None:
            lines.append("  " + describe_side("candidate", comparison.candidate, comparison.metric))
            lines.append(
                "  "
                + describe_side(f"{result.environment}'s", comparison.current, comparison.metric)
            )
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)
