"""The sync as four assets, one lineage chain:

    opik_composites → local_individual_prompts → pushed_individuals → pushed_composites

The data lives in Opik and in the charter file, not in Dagster: the chain is ``deps=`` lineage
and every asset returns a ``MaterializeResult`` (counters and summaries), so no value is stored
and no step ever loads an earlier run's snapshot. Each asset acts on the current state of the
charter and of Opik, through the run's ``SyncSession`` (see ``resources``).

Failure semantics: a prompt that fails is recorded (metadata, run tags) and the chain goes on,
so every step does what it can; the run's last step then fails the run if anything failed. Only
a conflict on a shared prompt (``persona_drift`` ERROR) stops the pushes, and only a step that
could not reach Opik at all fails at once (``opik_outage``): nothing green for work not done.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from prompt_sync_pipeline.sync.report import Action, group_failures

from . import checks, opik_outage, run_tags, summaries
from .resources import PromptSyncResource, SyncSession

GROUP = "prompt_sync"
OWNERS = ["team:data"]
# Bump when an asset's logic changes, so the UI can tell "code changed" from "data changed".
CODE_VERSION = "1"


@dg.asset(group_name=GROUP, kinds={"opik"}, owners=OWNERS, code_version=CODE_VERSION)
def opik_composites(
    context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
) -> Iterator[dg.MaterializeResult]:
    """What Opik holds for each composite chat prompt (persona + task), split back into the
    individual prompts it was built from, and how each part drifts from the charter in git: in
    sync, changed in Opik (an optimization the pull will adopt), changed in the charter (the push
    will send it), or changed on both sides (a conflict someone must resolve). Reads Opik only."""
    session = prompt_sync.session(context)
    charter = session.engine.load_charter()
    plan = session.plan_pull(charter)
    preview = session.preview_pull(charter, plan)
    metadata = summaries.opik_composites_metadata(session.config, plan, preview)
    problems = [_problem(a) for a in preview.actions if not a.ok]
    result: dg.MaterializeResult = dg.MaterializeResult(metadata=metadata)
    failure = opik_outage.nothing_read(plan.reads)
    yield from _complete(context, session, result, problems, failure=failure)


@dg.asset(
    deps=[opik_composites],
    check_specs=[checks.PERSONA_DRIFT],
    group_name=GROUP,
    kinds={"json"},
    owners=OWNERS,
    code_version=CODE_VERSION,
)
def local_individual_prompts(
    context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
) -> Iterator[dg.MaterializeResult]:
    """The charter in git after the pull: every individual prompt (the persona and each task
    prompt), with the changes made in Opik brought in. A part changed only in Opik is adopted; a
    part changed on both sides is left as it is and reported as a conflict, with how to resolve
    it. The file is rewritten only when a prompt changed, atomically and in its own layout, so
    `git diff` shows exactly the adopted prompts."""
    session = prompt_sync.session(context)
    step = session.new_report()
    with session.charter_locked():
        charter = session.engine.load_charter()
        plan = session.plan_pull(charter)
        session.apply_pull(charter, plan, step)
    session.record(step)
    metadata = summaries.step_metadata(step, "pull", summaries.pull_versions(plan))
    metadata["charter"] = dg.MetadataValue.path(str(session.config.charter))
    delivered = session.deliver()
    if delivered and delivered.commit:
        metadata.update(summaries.git_metadata(delivered))
        context.instance.add_run_tags(context.run.run_id, {run_tags.COMMIT_TAG: delivered.commit})
    drift = checks.persona_drift(session.config, plan, session.fixes)
    result: dg.MaterializeResult = dg.MaterializeResult(
        metadata=metadata,
        check_results=[drift],
        # The charter's content: what the steps after this one push.
        data_version=dg.DataVersion(summaries.file_sha256(session.config.charter)),
    )
    yield from _complete(context, session, result, failure=opik_outage.nothing_read(plan.reads))


@dg.asset(
    deps=[local_individual_prompts],
    group_name=GROUP,
    kinds={"opik"},
    owners=OWNERS,
    code_version=CODE_VERSION,
)
def pushed_individuals(
    context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
) -> Iterator[dg.MaterializeResult]:
    """Every individual prompt of the charter as a text prompt in Opik's prompt library, under
    the same name: what Opik's users and experiments pick up. A new version is created only when
    the text changed; a prompt in an unresolved conflict is not pushed."""
    session = prompt_sync.session(context)
    step = session.new_report()
    with session.charter_locked():
        charter = session.load_charter()
        # The pull's plan, when this run pulled: it names the prompts in conflict.
        session.engine.push_individuals(charter, step, session.plan)
    session.record(step)
    result: dg.MaterializeResult = dg.MaterializeResult(
        metadata=summaries.step_metadata(step, "individual")
    )
    failure = opik_outage.nothing_synced(step.actions, "individual prompts")
    yield from _complete(context, session, result, failure=failure)


@dg.asset(
    deps=[pushed_individuals],
    check_specs=[checks.COMPOSITES_MATCH_CHARTER],
    group_name=GROUP,
    kinds={"opik"},
    owners=OWNERS,
    code_version=CODE_VERSION,
)
def pushed_composites(
    context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
) -> Iterator[dg.MaterializeResult]:
    """Every composite rebuilt from the charter (system = persona, user = task prompt) as a chat
    prompt in Opik: the prompts the application runs. A new version is created only when the
    messages changed, and never over a change made in Opik that the pull has not brought in yet."""
    session = prompt_sync.session(context)
    step = session.new_report()
    with session.charter_locked():
        charter = session.load_charter()
        after_push = session.engine.push_composites(charter, step, session.plan)
    session.record(step)
    match = checks.composites_match_charter(
        session.config, charter, after_push, dry_run=session.dry_run
    )
    result: dg.MaterializeResult = dg.MaterializeResult(
        metadata=summaries.step_metadata(step, "composite"), check_results=[match]
    )
    problems = [] if match.passed or session.dry_run else [f"check: {match.description}"]
    failure = opik_outage.nothing_synced(step.actions, "composites")
    yield from _complete(context, session, result, problems, failure=failure)


CHAIN = (opik_composites, local_individual_prompts, pushed_individuals, pushed_composites)
CHAIN_KEYS = tuple(asset.key for asset in CHAIN)


def _complete(
    context: dg.AssetExecutionContext,
    session: SyncSession,
    result: dg.MaterializeResult,
    problems: Sequence[str] = (),
    *,
    failure: dg.Failure | None = None,
) -> Iterator[dg.MaterializeResult]:
    """Materialize, put the run's counters on the run, and, in the run's last step, end the run.

    Only the last step fails the run for prompts that failed: failing earlier would skip the
    steps after it, and each step should do what it can. A step that could not reach Opik at
    all (``failure``) fails at once, with no materialization and no check result.
    """
    run_id = context.run.run_id
    # Only the counters of the steps this run ran: a single-asset run doesn't claim zeros.
    tags = run_tags.counter_tags(run_tags.counters_of_steps_run(session.report))
    if session.dry_run:
        tags[run_tags.DRY_RUN_TAG] = "true"
    context.instance.add_run_tags(run_id, tags)
    if failure is not None:
        raise failure
    yield result
    selected = context.job_def.asset_layer.selected_asset_keys
    position = CHAIN_KEYS.index(context.asset_key)
    if any(key in selected for key in CHAIN_KEYS[position + 1 :]):
        return
    # One line per distinct failure: an outage that hits every prompt is one line with a count.
    failures = [g.line() for g in group_failures(session.report.actions)] + list(problems)
    failures += session.git_problems()
    if failures:
        raise dg.Failure(
            description=f"{len(failures)} problem(s) in this sync run:\n"
            + "\n".join(f"- {line}" for line in failures),
            metadata={
                k: dg.MetadataValue.int(v)
                for k, v in run_tags.counters_of_steps_run(session.report).items()
            },
        )
    # The success key marks the day's task as done: only a whole, real sync can set it.
    if session.dry_run or not all(key in selected for key in CHAIN_KEYS):
        return
    run = context.run
    record = context.instance.get_run_record_by_id(run_id)
    day = run_tags.run_day(
        run.tags, record.start_time if record else None, session.config.schedule_timezone
    )
    context.instance.add_run_tags(run_id, {run_tags.SUCCESS_KEY_TAG: run_tags.success_key(day)})
    context.log.info("Sync succeeded: %s", session.report.summary_line())


def _problem(action: Action) -> str:
    reason = action.reason.splitlines()[0] if action.reason else ""
    return f"{action.step} `{action.subject}`: {action.outcome}" + (
        f" ({reason})" if reason else ""
    )
