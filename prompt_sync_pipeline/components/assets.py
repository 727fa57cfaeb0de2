"""The sync as four assets per instance, one lineage chain (keys prefixed with the instance):

    <name>/opik_composites → local_individual_prompts → pushed_individuals → pushed_composites

The data lives in Opik and in the charter file, not in Dagster: the chain is ``deps=`` lineage
and every asset returns a ``MaterializeResult`` (counters and summaries), so no value is stored
and no step ever loads an earlier run's snapshot. Each asset acts on the current state of the
charter and of Opik, through the run's ``SyncSession`` of the instance (see ``resources``). Each
asset talks to Opik in the instance's concurrency pool, so instances sharing a workspace take turns.

Failure semantics: a prompt that fails is recorded (metadata, run tags) and the chain goes on,
so every step does what it can; the run's last step then fails the run if anything failed. Only
a conflict on a shared prompt (``persona_drift`` ERROR) stops the pushes, and only a step that
could not reach Opik at all fails at once (``opik_outage``): nothing green for work not done.
"""

from collections.abc import Callable, Iterator, Sequence

import dagster as dg

from prompt_sync_pipeline.sync.report import SyncReport

from . import checks, opik_outage, run_tags, summaries
from .failures import cli_messages, run_failure
from .instance import (
    LOCAL_INDIVIDUAL_PROMPTS,
    OPIK_COMPOSITES,
    PUSHED_COMPOSITES,
    PUSHED_INDIVIDUALS,
    Instance,
)
from .resources import PromptSyncResource, SyncSession

# Bump when an asset's logic changes, so the UI can tell "code changed" from "data changed".
CODE_VERSION = "1"

Step = Callable[[dg.AssetExecutionContext, PromptSyncResource], Iterator[dg.MaterializeResult]]


def build_chain(instance: Instance) -> list[dg.AssetsDefinition]:
    """The instance's four assets, in lineage order."""

    def asset(name: str, kinds: set[str], step: Step, **kwargs) -> dg.AssetsDefinition:
        upstream = kwargs.pop("upstream", None)
        return dg.asset(
            key=instance.key(name),
            deps=[instance.key(upstream)] if upstream else None,
            group_name=instance.group,
            kinds=kinds,
            owners=list(instance.owners),
            tags=dict(instance.tags) or None,
            code_version=CODE_VERSION,
            pool=instance.pool,
            **kwargs,
        )(step)

    def opik_composites(
        context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
    ) -> Iterator[dg.MaterializeResult]:
        """What Opik holds for each composite chat prompt (persona + task), split back into the
        individual prompts it was built from, and how each part drifts from the charter in git:
        in sync, changed in Opik (an optimization the pull will adopt), changed in the charter
        (the push will send it), or changed on both sides (a conflict someone must resolve).
        Reads Opik only."""
        with cli_messages():
            session = prompt_sync.session(context, instance)
            charter = session.engine.load_charter()
            plan = session.plan_pull(charter)
            preview = session.preview_pull(charter, plan)
        metadata = summaries.opik_composites_metadata(session.config, plan, preview)
        result: dg.MaterializeResult = dg.MaterializeResult(metadata=metadata)
        failure = opik_outage.nothing_read(plan.reads)
        yield from _complete(context, session, result, failure=failure, preview=preview)

    def local_individual_prompts(
        context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
    ) -> Iterator[dg.MaterializeResult]:
        """The charter in git after the pull: every individual prompt (the persona and each task
        prompt), with the changes made in Opik brought in. A part changed only in Opik is
        adopted; a part changed on both sides is left as it is and reported as a conflict, with
        how to resolve it. The file is rewritten only when a prompt changed, atomically and in
        its own layout, so `git diff` shows exactly the adopted prompts."""
        with cli_messages():
            session = prompt_sync.session(context, instance)
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
            context.instance.add_run_tags(
                context.run.run_id, {run_tags.COMMIT_TAG: delivered.commit}
            )
        drift = checks.persona_drift(instance, session.config, plan, session.fixes)
        result: dg.MaterializeResult = dg.MaterializeResult(
            metadata=metadata,
            check_results=[drift],
            # The charter's content: what the steps after this one push.
            data_version=dg.DataVersion(summaries.file_sha256(session.config.charter)),
        )
        failure = opik_outage.nothing_read(plan.reads)
        # An unresolvable drift blocks the pushes: this step is the run's last, and says why.
        blocking = not drift.passed and drift.severity == dg.AssetCheckSeverity.ERROR
        yield from _complete(context, session, result, failure=failure, last=blocking)

    def pushed_individuals(
        context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
    ) -> Iterator[dg.MaterializeResult]:
        """Every individual prompt of the charter as a text prompt in Opik's prompt library,
        under the same name: what Opik's users and experiments pick up. A new version is created
        only when the text changed; a prompt in an unresolved conflict is not pushed."""
        with cli_messages():
            session = prompt_sync.session(context, instance)
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

    def pushed_composites(
        context: dg.AssetExecutionContext, prompt_sync: PromptSyncResource
    ) -> Iterator[dg.MaterializeResult]:
        """Every composite rebuilt from the charter (system = persona, user = task prompt) as a
        chat prompt in Opik: the prompts the application runs. A new version is created only
        when the messages changed, and never over a change made in Opik that the pull has not
        brought in yet."""
        with cli_messages():
            session = prompt_sync.session(context, instance)
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

    return [
        asset(OPIK_COMPOSITES, {"opik"}, opik_composites),
        asset(
            LOCAL_INDIVIDUAL_PROMPTS,
            {"json"},
            local_individual_prompts,
            upstream=OPIK_COMPOSITES,
            check_specs=[checks.persona_drift_spec(instance)],
        ),
        asset(PUSHED_INDIVIDUALS, {"opik"}, pushed_individuals, upstream=LOCAL_INDIVIDUAL_PROMPTS),
        asset(
            PUSHED_COMPOSITES,
            {"opik"},
            pushed_composites,
            upstream=PUSHED_INDIVIDUALS,
            check_specs=[checks.composites_match_charter_spec(instance)],
        ),
    ]


def _complete(
    context: dg.AssetExecutionContext,
    session: SyncSession,
    result: dg.MaterializeResult,
    problems: Sequence[str] = (),
    *,
    failure: dg.Failure | None = None,
    preview: SyncReport | None = None,
    last: bool = False,
) -> Iterator[dg.MaterializeResult]:
    """Materialize, put the run's counters on the run, and, in the run's last step, end the run.

    Only the last step fails the run for prompts that failed: failing earlier would skip the
    steps after it, and each step should do what it can. A step that could not reach Opik at
    all (``failure``) fails at once, with no materialization and no check result. ``preview``
    is what the pull would do, reported when the run pulls nothing itself (``opik_composites``
    alone). ``last``: the steps after this one won't run (a blocking check failed).
    """
    run_id = context.run.run_id
    instance = session.instance
    # Only the counters of the steps this run ran: a single-asset run doesn't claim zeros.
    counters = run_tags.counters_of_steps_run(session.report)
    tags = run_tags.counter_tags(counters)
    tags[run_tags.INSTANCE_TAG] = instance.name
    if session.dry_run:
        tags[run_tags.DRY_RUN_TAG] = "true"
    context.instance.add_run_tags(run_id, tags)
    if failure is not None:
        raise failure
    yield result
    selected = context.job_def.asset_layer.selected_asset_keys
    chain = instance.chain_keys
    position = chain.index(context.asset_key)
    if not last and any(key in selected for key in chain[position + 1 :]):
        return
    report = session.report
    if preview is not None and not report.steps("pull"):
        report = SyncReport([*preview.actions, *report.actions], dry_run=report.dry_run)
    extra = [*problems, *session.git_problems()]
    if report.failed or extra:
        raise run_failure(context.job_def.name, report, extra, counters)
    # The success key marks the day's task as done: only a whole, real sync can set it.
    if session.dry_run or not all(key in selected for key in chain):
        return
    success_key = run_tags.success_key(instance.name, session.day)
    context.instance.add_run_tags(run_id, {run_tags.SUCCESS_KEY_TAG: success_key})
    context.log.info("Sync succeeded: %s", session.report.summary_line())
