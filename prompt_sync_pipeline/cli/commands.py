"""One click command per verb, each with its own options and help. A command's body imports
what it needs when it runs (``syncing``, ``releasing``, ``checking``): listing the commands, their
help and shell completion load neither the engine, nor the Opik SDK, nor Dagster."""

from __future__ import annotations

from typing import Any, Literal

import click

from .options import NO_GIT, REBUILD_STATE, complete_names, keep_options, session_options
from .session import Session


def _sync(session: Session, command: Literal["pull", "push", "sync", "plan"], **kw: Any) -> int:
    def body() -> int:
        from . import syncing

        return syncing.run(session, command, **kw)

    return session.run(command, body)


@click.command(short_help="pull the composites from Opik into the charter")
@session_options
@NO_GIT
@REBUILD_STATE
@click.pass_obj
def pull(
    session: Session,
    config_path: str | None = None,
    as_json: bool = False,
    no_git: bool = False,
    rebuild_state: bool = False,
) -> int:
    """Pull the composites from Opik: write the parts Opik changed into the charter."""
    session.use(config_path, as_json)
    return _sync(session, "pull", use_git=not no_git, rebuild_state=rebuild_state)


@click.command(short_help="push the charter's prompts and composites (never over an Opik edit)")
@session_options
@NO_GIT
@click.pass_obj
def push(
    session: Session, config_path: str | None = None, as_json: bool = False, no_git: bool = False
) -> int:
    """Push the charter's prompts and composites to Opik; a composite changed in Opik since
    the last sync is not pushed over (pull first)."""
    session.use(config_path, as_json)
    return _sync(session, "push", use_git=not no_git)


@click.command(short_help="pull, then push (the nightly run)")
@session_options
@keep_options
@NO_GIT
@REBUILD_STATE
@click.pass_obj
def sync(
    session: Session,
    config_path: str | None = None,
    as_json: bool = False,
    keep_charter: tuple[str, ...] = (),
    keep_opik: tuple[str, ...] = (),
    no_git: bool = False,
    rebuild_state: bool = False,
) -> int:
    """Pull, then push: the nightly run."""
    session.use(config_path, as_json)
    return _sync(
        session,
        "sync",
        keep_charter=keep_charter,
        keep_opik=keep_opik,
        use_git=not no_git,
        rebuild_state=rebuild_state,
    )


@click.command(short_help="dry run of sync: every action with a unified diff; changes nothing")
@session_options
@keep_options
@REBUILD_STATE
@click.pass_obj
def plan(
    session: Session,
    config_path: str | None = None,
    as_json: bool = False,
    keep_charter: tuple[str, ...] = (),
    keep_opik: tuple[str, ...] = (),
    rebuild_state: bool = False,
) -> int:
    """Dry run of sync: print every action with a unified diff; change nothing (no write
    access to the checkout needed)."""
    session.use(config_path, as_json)
    return _sync(
        session, "plan", keep_charter=keep_charter, keep_opik=keep_opik, rebuild_state=rebuild_state
    )


@click.command(
    "run-now",
    short_help="launch the charter's sync job in the local Dagster instance, like a scheduled run",
)
@session_options
@click.pass_obj
def run_now(session: Session, config_path: str | None = None, as_json: bool = False) -> int:
    """Launch the sync job of the charter's instance (NAME_prompt_sync_job) in the Dagster
    instance of $DAGSTER_HOME, like a scheduled run, and wait for it."""
    session.use(config_path, as_json)

    def body() -> int:
        from . import releasing

        return releasing.run_now(session)

    return session.run("run-now", body)


@click.command(short_help="experiment scores per prompt version")
@click.option("--prompt", metavar="NAME", help="only this prompt (composite or individual)")
@click.option("--metric", metavar="NAME", help="only this feedback score")
@click.option(
    "--environment",
    metavar="ENV",
    help="pair each composite's current version with this environment's "
    "(default: promotion.environment, else production)",
)
@click.option(
    "--level",
    type=float,
    metavar="L",
    help="the paired intervals' level (default: promotion.level, else 0.95)",
)
@session_options
@click.pass_obj
def performance(
    session: Session,
    prompt: str | None = None,
    metric: str | None = None,
    environment: str | None = None,
    level: float | None = None,
    config_path: str | None = None,
    as_json: bool = False,
) -> int:
    """Per prompt version: the Opik experiments that used it and their mean feedback scores;
    per composite, its current version paired item by item with the previous one and with the
    version ENV points to."""
    session.use(config_path, as_json)

    def body() -> int:
        from . import releasing

        return releasing.performance(
            session, prompt=prompt, metric=metric, environment=environment, level=level
        )

    return session.run("performance", body)


# promotion.gate's GATES and PromotionSettings' min_items, written here so that listing the
# commands imports neither the promotion package nor pydantic (a test keeps them equal).
GATES = ("paired", "mean")
DEFAULT_MIN_ITEMS = 30


@click.command(
    short_help="point an Opik environment at a composite version that won its experiments"
)
@click.argument("composite", metavar="COMPOSITE", shell_complete=complete_names("composites"))
@click.option(
    "--environment",
    metavar="ENV",
    help="default: promotion.environment in the configuration, else production",
)
@click.option("--version", metavar="vN", help="default: the charter's current composite")
@click.option(
    "--metric",
    metavar="M",
    help="the feedback score to compare (default: promotion.metric, else the only one both "
    "versions were scored on)",
)
@click.option(
    "--min-delta",
    type=float,
    metavar="D",
    help="the margin to beat: the paired gate needs the difference's interval above D, the "
    "mean gate a mean at least the current version's + D (default: promotion.min_delta, "
    "else 0)",
)
@click.option(
    "--gate",
    type=click.Choice(GATES),
    help="paired (default): item by item, with a confidence interval; mean: the experiments' "
    "means only, for experiments without per-item scores",
)
@click.option(
    "--level",
    type=float,
    metavar="L",
    help="the confidence interval's level (default: promotion.level, else 0.95)",
)
@click.option(
    "--min-items",
    type=int,
    metavar="N",
    help="paired dataset items needed at least (default: promotion.min_items, else "
    f"{DEFAULT_MIN_ITEMS})",
)
@click.option("--force", is_flag=True, help="promote whatever the gate says (and say so)")
@click.option("--dry-run", is_flag=True, help="show the decision, move nothing")
@session_options
@click.pass_obj
def promote(
    session: Session,
    composite: str,
    config_path: str | None = None,
    as_json: bool = False,
    **options: Any,
) -> int:
    """Point the Opik environment ENV at a version of COMPOSITE, only when its experiments
    show it better than the version ENV holds now: item by item with a confidence interval
    (the paired gate), or on the experiments' means (--gate mean)."""
    session.use(config_path, as_json)

    def body() -> int:
        from . import releasing

        return releasing.move(session, releasing.Promotion(composite, **options))

    return session.run("promote", body)


@click.command(short_help="move an environment back, or restore an earlier version as the newest")
@click.argument("composite", metavar="COMPOSITE", shell_complete=complete_names("composites"))
@click.option("--to", metavar="vN", help="the version to go back to (default: the previous one)")
@click.option(
    "--environment",
    metavar="ENV",
    help="move this environment back; without it, restore the version as the newest",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="show what would move and what the next sync would do, change nothing",
)
@session_options
@click.pass_obj
def rollback(
    session: Session,
    composite: str,
    config_path: str | None = None,
    as_json: bool = False,
    **options: Any,
) -> int:
    """Move ENV back to where it pointed before the last promotion (or to vN); without
    --environment, restore vN (default: the version before the latest) as the newest. Says
    what the next sync will do."""
    session.use(config_path, as_json)

    def body() -> int:
        from . import releasing

        return releasing.move(session, releasing.Rollback(composite, **options))

    return session.run("rollback", body)


@click.command(short_help="check the configuration, the charter and the state file (offline)")
@click.option("--online", is_flag=True, help="also check Opik's access and the project")
@session_options
@click.pass_obj
def check(
    session: Session, online: bool = False, config_path: str | None = None, as_json: bool = False
) -> int:
    """Check the configuration, the charter and the sync state file without Opik, and list
    every problem (exit 2 if any). With --online, also check that Opik answers, accepts the
    credentials, and what it holds of the project."""
    session.use(config_path, as_json)

    def body() -> int:
        from . import checking

        return checking.run(session, online=online)

    return session.run("check", body)
