"""``prompt-sync``: the engineers' command line over the same engine Dagster runs.

Exit status: 0 when nothing failed, 1 when any prompt failed or conflicted, 2 for bad usage,
configuration or charter (and then nothing was changed).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

from .cli_manners import StrictArgumentParser, quiet_on_broken_pipe
from .delivery import GitOutcome, start_git_run
from .errors import ExitCode, UsageError
from .opik import OpikUnavailable
from .promotion import cli as release_cli
from .sync import resolutions
from .sync.config import SyncConfig, load_config
from .sync.engine import run_sync
from .sync.messages import Fixes
from .sync.report import SyncReport, render_report

COMMANDS = {
    "pull": "pull the composites from Opik into the charter",
    "push": "push the charter's prompts and composites to Opik (never over an unpulled edit)",
    "sync": "pull, then push (the nightly run)",
    "plan": "dry run of sync: print every action with a unified diff, change nothing",
    "run-now": "launch the charter's sync job in the local Dagster instance, like a scheduled run",
    "performance": "experiment scores per prompt version",
    **release_cli.COMMANDS,
}
SEED_FLAGS = {"--all", "--pull-all", "--performance"}
SEED_HELP = """The seed task's spellings still work (also as `python -m prompt_sync_pipeline`):
  --all                 push
  --pull-all            pull
  --pull-all --all      sync
  --performance         performance"""


def build_parser() -> argparse.ArgumentParser:
    parser = StrictArgumentParser(
        prog="prompt-sync",
        description="Keep the prompt charter in git and Opik's prompt library in step.",
        epilog=SEED_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="configuration YAML (default: $PROMPT_SYNC_CONFIG)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        command = commands.add_parser(name, help=help_text, description=help_text)
        # Accept the global flags after the command too: `prompt-sync sync --json`.
        command.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        command.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
        if name in ("sync", "plan"):
            command.add_argument(
                "--keep-charter",
                action="append",
                default=[],
                metavar="NAME",
                help="resolve a conflict on prompt NAME, or a malformed composite NAME, with the "
                "charter's text (pushed over Opik's; Opik keeps the old version in its history)",
            )
            command.add_argument(
                "--keep-opik",
                action="append",
                default=[],
                metavar="NAME",
                help="resolve a conflict on prompt NAME with Opik's text (written into the "
                "charter); PROMPT=COMPOSITE: that composite's version of a shared prompt wins; "
                "COMPOSITE: that composite's version wins for all its parts",
            )
        if name in ("pull", "push", "sync"):
            command.add_argument(
                "--no-git",
                action="store_true",
                help="leave git alone for this run (no update before, no commit after)",
            )
        if name in ("sync", "pull", "plan"):
            command.add_argument(
                "--rebuild-state",
                action="store_true",
                help="rebuild the sync state file beside the charter from Opik's provenance "
                "records (after a broken or conflicted state file), as at first contact",
            )
        if name == "performance":
            command.add_argument("--prompt", help="only this prompt (composite or individual)")
            command.add_argument("--metric", help="only this feedback score")
        if name in release_cli.COMMANDS:
            release_cli.add_arguments(command, name)
    return parser


@quiet_on_broken_pipe
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if SEED_FLAGS & set(argv) and not set(COMMANDS) & set(argv):
        return seed_main(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        config = load_config(args.config)
        if args.command == "run-now":
            from .run_now import launch_prompt_sync_job

            return launch_prompt_sync_job(config_path=args.config, as_json=args.json)
        if args.command == "performance":
            from .performance.cli import show_performance

            return show_performance(
                config, prompt=args.prompt, metric=args.metric, as_json=args.json
            )
        if args.command in release_cli.COMMANDS:
            return release_cli.run_release(config, args)
        git = None if getattr(args, "no_git", True) else start_git_run(config)
        report = run_sync(
            config,
            pull=args.command in ("pull", "sync", "plan"),
            push=args.command in ("push", "sync", "plan"),
            dry_run=args.command == "plan",
            keep=_keep_choices(args, config),
            progress=_progress_printer(),
            fixes=Fixes.for_config(args.config),
            rebuild_state=getattr(args, "rebuild_state", False),
        )
    except UsageError as exc:
        print(f"prompt-sync: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except OpikUnavailable as exc:
        print(f"prompt-sync: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    # After the sync's own work: a git failure loses nothing, it only fails the run.
    delivered = git.finish(report) if git else None
    if args.json:
        result = report.to_json()
        if delivered:
            result["git"] = delivered.to_json()
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        print_report(report, sys.stdout, show_diffs=args.command == "plan")
        _print_git(delivered)
    return ExitCode.FAILED if report.failed or (delivered and delivered.problems) else ExitCode.OK


def _print_git(outcome: GitOutcome | None) -> None:
    for line in outcome.lines() if outcome else []:
        print(line, file=sys.stderr if line.startswith("git error") else sys.stdout)


def _keep_choices(args: argparse.Namespace, config: SyncConfig) -> resolutions.Resolutions:
    return resolutions.parse(
        config, charter=getattr(args, "keep_charter", []), opik=getattr(args, "keep_opik", [])
    )


def print_report(report: SyncReport, out: TextIO, *, show_diffs: bool) -> None:
    for line in render_report(report, show_diffs=show_diffs):
        print(line, file=out)


def _progress_printer():
    """A one-line progress display on a terminal; silent when output is piped or logged."""
    if not sys.stderr.isatty():
        return None

    def show(label: str, done: int, total: int) -> None:
        end = "\n" if done == total else ""
        print(f"\r{label}: {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show


def seed_main(argv: Sequence[str] | None = None) -> int:
    """The seed task's spellings: ``--all`` (push), ``--pull-all`` (pull), ``--performance``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    flags = {"--all", "--pull-all", "--performance"} & set(argv)
    if not flags:
        return main(argv)
    if flags == {"--all", "--pull-all"}:
        command = "sync"
    elif len(flags) == 1:
        command = {"--all": "push", "--pull-all": "pull", "--performance": "performance"}[
            flags.pop()
        ]
    else:
        print("prompt-sync: --performance can't be combined with --all/--pull-all", file=sys.stderr)
        return ExitCode.USAGE
    options = [a for a in argv if a == "--json"] + _config_args(argv)
    return main([*options, command])


def _config_args(argv: list[str]) -> list[str]:
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return ["--config", argv[i + 1]]
        if arg.startswith("--config="):
            return [arg]
    return []
