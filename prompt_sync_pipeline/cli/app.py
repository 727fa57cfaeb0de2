"""The command line's shape: the ``prompt-sync`` group, its commands (``commands``), and how
a line that doesn't parse is refused (exit 2, the unknown option or command named with a close
match).

``--config`` and ``--json`` work before or after the command. The seed task's spellings are
options of the group: ``--all`` (push), ``--pull-all`` (pull), both (sync), ``--performance``.
Nothing here imports the engine, the Opik SDK or Dagster.
"""

from __future__ import annotations

import difflib

import click

from ..errors import ExitCode
from .commands import check, performance, plan, promote, pull, push, rollback, run_now, sync
from .options import session_options
from .session import Session

PROG = "prompt-sync"

SEED_HELP = """\b
The seed task's spellings still work (also as `python -m prompt_sync_pipeline`):
--all                 push
--pull-all            pull
--pull-all --all      sync
--performance         performance

\b
Shell completion (bash): eval "$(_PROMPT_SYNC_COMPLETE=bash_source prompt-sync)"
(zsh: zsh_source, fish: fish_source)."""
SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class PromptSync(click.Group):
    """Commands listed in the order a user meets them; an unknown one named with a close match."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise click.UsageError(
                f"unknown command {name!r}{hint}; commands: {', '.join(self.list_commands(ctx))}",
                ctx,
            )
        return super().resolve_command(ctx, args)


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("prompt-sync")
    except PackageNotFoundError:
        installed = "(not installed)"
    click.echo(f"{PROG} {installed}")
    ctx.exit(ExitCode.OK)


@click.group(
    cls=PromptSync,
    invoke_without_command=True,
    context_settings=SETTINGS,
    help="Keep the prompt charter in git and Opik's prompt library in step.",
    epilog=SEED_HELP,
)
@session_options
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="print the version and exit",
)
@click.option("--all", "seed_push", is_flag=True, hidden=True)
@click.option("--pull-all", "seed_pull", is_flag=True, hidden=True)
@click.option("--performance", "seed_performance", is_flag=True, hidden=True)
@click.pass_context
def app(
    ctx: click.Context,
    config_path: str | None,
    as_json: bool,
    seed_push: bool,
    seed_pull: bool,
    seed_performance: bool,
) -> int | None:
    ctx.obj = Session(config_path, as_json)
    seeds = [
        flag
        for flag, given in (
            ("--all", seed_push),
            ("--pull-all", seed_pull),
            ("--performance", seed_performance),
        )
        if given
    ]
    if ctx.invoked_subcommand is not None:
        if seeds:
            raise click.UsageError(
                f"{seeds[0]} is the seed task's spelling of a command: give it without "
                f"{ctx.invoked_subcommand!r}",
                ctx,
            )
        return None
    if not seeds:
        raise click.UsageError(
            f"missing command; commands: {', '.join(app.list_commands(ctx))}", ctx
        )
    if seed_performance:
        if seed_push or seed_pull:
            raise click.UsageError("--performance can't be combined with --all/--pull-all", ctx)
        return ctx.invoke(performance)
    result: int = ctx.invoke(sync if seed_push and seed_pull else push if seed_push else pull)
    return result


for command in (pull, push, sync, plan, run_now, performance, promote, rollback, check):
    app.add_command(command)


# -- parsing errors -----------------------------------------------------------------------------


def dispatch(args: list[str]) -> int:
    """Parse ``args`` and run the command; a parsing error is exit 2, worded like every error."""
    try:
        status = app.main(args=args, prog_name=PROG, standalone_mode=False)
    except click.ClickException as exc:
        return _refuse(exc, args)
    except click.exceptions.Abort:  # Ctrl-C while click itself was parsing
        from ..sync import messages

        session = Session(as_json=_wants_json(args))
        hint = messages.hint("interrupted", session.fixes)
        return session.fail(messages.interrupted([], PROG), ExitCode.INTERRUPTED, hint)
    return ExitCode.OK if status is None else int(status)


def _refuse(exc: click.ClickException, args: list[str]) -> int:
    from ..sync import messages

    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    command = ctx.info_name if ctx is not None and ctx.parent is not None else ""
    if isinstance(exc, click.NoSuchOption):
        message = _unknown_option(exc.option_name, ctx)
    else:
        text = exc.format_message().rstrip(".")
        message = text[:1].lower() + text[1:]
    session = Session(as_json=_wants_json(args))
    hint = messages.hint("usage", session.fixes, command or "")
    return session.fail(message, ExitCode.USAGE, hint, tail=f"; {hint}")


def _unknown_option(name: str, ctx: click.Context | None) -> str:
    contexts = [c for c in (ctx, ctx.parent if ctx else None) if c is not None]
    known = sorted({opt for c in contexts for opt in _long_options(c.command)})
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"unknown option {name} (did you mean {close[0]}?)"
    owners = [c for c, command in app.commands.items() if name in _long_options(command)]
    if owners:  # e.g. `prompt-sync --keep-opik X sync`
        return f"unknown option {name} before the command: it is an option of {', '.join(owners)}"
    return f"unknown option {name}"


def _long_options(command: click.Command) -> list[str]:
    return [
        opt
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--")
    ]


def _wants_json(args: list[str]) -> bool:
    return "--json" in (args[: args.index("--")] if "--" in args else args)
