"""The options several commands share: ``--config`` and ``--json`` after the command too,
the ``--keep-*`` resolutions, ``--no-git``, ``--rebuild-state``, and shell completion of the
configuration's names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])
CONFIG_HELP = "configuration YAML (default: $PROMPT_SYNC_CONFIG)"
JSON_HELP = "print machine-readable results (on failure: error, exit_code, hint)"


def session_options(command: F) -> F:
    """``--config`` and ``--json`` after the command too: ``prompt-sync sync --json``."""
    command = click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(command)
    return click.option(
        "--config", "config_path", metavar="PATH", type=click.Path(), help=CONFIG_HELP
    )(command)


def complete_names(kind: Literal["composites", "names"]) -> Callable[..., list[str]]:
    """Shell completion of the configuration's composite (or prompt and composite) names."""

    def complete(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[str]:
        given = [c.params.get("config_path") for c in (ctx, ctx.parent) if c is not None]
        try:
            from ..sync.config import load_config

            config = load_config(next((path for path in given if path), None))
        except Exception:
            return []
        names = list(config.composites)
        if kind == "names":
            names = [*sorted(config.individual_names()), *names]
        return [name for name in names if name.startswith(incomplete)]

    return complete


def keep_options(command: F) -> F:
    command = click.option(
        "--keep-opik",
        multiple=True,
        metavar="NAME",
        shell_complete=complete_names("names"),
        help="resolve a conflict on prompt NAME with Opik's text (written into the charter); "
        "PROMPT=COMPOSITE: that composite's version of a shared prompt wins; COMPOSITE: that "
        "composite's version wins for all its parts",
    )(command)
    return click.option(
        "--keep-charter",
        multiple=True,
        metavar="NAME",
        shell_complete=complete_names("names"),
        help="resolve a conflict on prompt NAME, or a malformed composite NAME, with the "
        "charter's text (pushed over Opik's; Opik keeps the old version in its history)",
    )(command)


NO_GIT = click.option(
    "--no-git",
    is_flag=True,
    help="leave git alone for this run (no update before, no commit after)",
)
REBUILD_STATE = click.option(
    "--rebuild-state",
    is_flag=True,
    help="rebuild the sync state file beside the charter from Opik's provenance records "
    "(after a broken or conflicted state file), as at first contact",
)
