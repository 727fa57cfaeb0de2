"""Persona-drift checks: is each shared prompt (the persona) the same everywhere it is used?

Both checks are evaluated inside the step of the asset they guard (``check_specs``), from the
run's own reads of Opik: ``persona_drift`` right after the pull, before anything is pushed, and
blocking, so an unresolvable drift stops the pushes; ``composites_match_charter`` right after the
composites are pushed. Evaluating them in the step also means they report even when the step
then fails the run for a prompt that failed.
"""

from __future__ import annotations

import dagster as dg

from prompt_sync_pipeline.sync import composites as comp
from prompt_sync_pipeline.sync.charter import Charter
from prompt_sync_pipeline.sync.config import SyncConfig
from prompt_sync_pipeline.sync.formatting import labelled_diff, messages_text, version_label
from prompt_sync_pipeline.sync.messages import Fixes, drift_conflict
from prompt_sync_pipeline.sync.plan import CompositeRead, PullPlan

from .instance import LOCAL_INDIVIDUAL_PROMPTS, PUSHED_COMPOSITES, Instance
from .summaries import drift_markdown

PERSONA_DRIFT = "persona_drift"
COMPOSITES_MATCH_CHARTER = "composites_match_charter"


def persona_drift_spec(instance: Instance) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        PERSONA_DRIFT,
        asset=instance.key(LOCAL_INDIVIDUAL_PROMPTS),
        blocking=True,
        description="Before the push: which composites in Opik carry a shared prompt (one used "
        "by two or more composites, such as the persona) that differs from the charter's. WARN "
        "when the difference resolves itself (Opik's change is adopted and spreads to the other "
        "composites, or the charter's change is pushed); ERROR when it is a conflict, which "
        "stops the pushes of this run.",
    )


def composites_match_charter_spec(instance: Instance) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        COMPOSITES_MATCH_CHARTER,
        asset=instance.key(PUSHED_COMPOSITES),
        description="After the push: every composite's current version in Opik equals its "
        "rebuild from the charter (same messages, same template type). ERROR otherwise, naming "
        "the composites and showing the difference.",
    )


def shared_prompts(config: SyncConfig) -> list[str]:
    return sorted(p for p in config.individual_names() if len(config.composites_using(p)) > 1)


def persona_drift(
    instance: Instance, config: SyncConfig, plan: PullPlan, fixes: Fixes
) -> dg.AssetCheckResult:
    """Judge the pull's plan: a shared prompt that differs between the charter and a composite."""
    shared = shared_prompts(config)
    is_shared = set(shared).__contains__
    drift = [c for c in plan.changes if is_shared(c.prompt)]
    conflicting = sorted({c.composite for c in drift if c.prompt in plan.conflicts})
    drifting = sorted({c.composite for c in drift})
    # Composites Opik could not give us: their shared prompts are unknown, so not "in sync".
    unread = {
        name: failure.reason
        for name, failure in plan.failures.items()
        if failure.kind == "failed"
        and any(map(is_shared, config.composites[name].parts().values()))
    }
    metadata = {
        "shared_prompts": dg.MetadataValue.json(shared),
        "composites": dg.MetadataValue.json(drifting),
        "conflicting_composites": dg.MetadataValue.json(conflicting),
        "drifting_composites": dg.MetadataValue.int(len(drifting)),
        "composites_conflicting": dg.MetadataValue.int(len(conflicting)),
        "composites_unread": dg.MetadataValue.int(len(unread)),
    }
    if drift:
        metadata["difference"] = dg.MetadataValue.md(drift_markdown(drift))
    if conflicting:
        prompts = sorted({c.prompt for c in drift if c.prompt in plan.conflicts})
        description = drift_conflict(prompts, conflicting, fixes)
        severity = dg.AssetCheckSeverity.ERROR
    elif drift:
        description = (
            f"{', '.join(drifting)} carry a {', '.join(sorted({c.prompt for c in drift}))} that "
            "differs from the charter's; the sync resolves it (adopted from Opik or pushed from "
            "the charter) and the change reaches every composite that uses it."
        )
        severity = dg.AssetCheckSeverity.WARN
    elif unread:
        description = ""
        severity = dg.AssetCheckSeverity.WARN
    else:
        description = "Every composite in Opik carries the charter's shared prompts."
        severity = dg.AssetCheckSeverity.WARN
    if unread:
        description = f"{_not_evaluated(unread)} {description}".strip()
        metadata["unread_composites"] = dg.MetadataValue.json(unread)
    return dg.AssetCheckResult(
        asset_key=instance.key(LOCAL_INDIVIDUAL_PROMPTS),
        check_name=PERSONA_DRIFT,
        passed=not drift and not unread,
        severity=severity,
        description=description,
        metadata=metadata,
    )


def composites_match_charter(
    config: SyncConfig, charter: Charter, reads: dict[str, CompositeRead], *, dry_run: bool
) -> dg.AssetCheckResult:
    """Compare every composite's version in Opik after the push with the charter's rebuild.

    ``reads`` is Opik's state as the push left it (what it read, updated with what it created),
    so the check costs no extra request.
    """
    mismatched: dict[str, str] = {}
    unread: dict[str, str] = {}
    versions: dict[str, str] = {}
    for name, spec in config.composites.items():
        expected = charter.parts(spec.system_prompt, spec.user_prompt).messages()
        template_type = charter[spec.system_prompt].type
        read = reads[name]
        if read.error:
            unread[name] = read.error
            continue
        current = read.latest
        versions[name] = version_label(current)
        if current is None:
            mismatched[name] = "not in Opik"
            continue
        try:
            actual = comp.parse_chat_template(current.template)
        except comp.MalformedComposite as exc:
            actual, problem = None, str(exc)
        else:
            problem = ""
        if actual == expected and current.type == template_type:
            continue
        if actual == expected:
            problem = f"template type {current.type!r}, the charter's is {template_type!r}"
        diff = labelled_diff(
            messages_text(actual) if actual is not None else current.template,
            messages_text(expected),
            f"Opik {name} {version_label(current)}",
            f"rebuilt from the charter {config.charter.name}",
        )
        mismatched[name] = (problem + "\n" if problem else "") + f"```diff\n{diff.rstrip()}\n```"
    metadata = {
        "composites": dg.MetadataValue.json(sorted(config.composites)),
        "mismatched_composites": dg.MetadataValue.json(sorted(mismatched)),
        "opik_versions": dg.MetadataValue.json(versions),
        "composites_matching": dg.MetadataValue.int(
            len(config.composites) - len(mismatched) - len(unread)
        ),
        "composites_mismatched": dg.MetadataValue.int(len(mismatched)),
        "composites_unread": dg.MetadataValue.int(len(unread)),
    }
    if mismatched:
        metadata["difference"] = dg.MetadataValue.md(
            "\n\n".join(f"#### `{name}`\n{text}" for name, text in sorted(mismatched.items()))
        )
        description = f"{', '.join(sorted(mismatched))} in Opik differ from the charter's rebuild."
        if dry_run:
            description += " Dry run: nothing was pushed, so a difference is expected."
    elif not unread:
        description = "Every composite in Opik equals its rebuild from the charter."
    else:
        description = ""
    if unread:
        description = f"{_not_evaluated(unread)} {description}".strip()
        metadata["unread_composites"] = dg.MetadataValue.json(unread)
    return dg.AssetCheckResult(
        check_name=COMPOSITES_MATCH_CHARTER,
        passed=not mismatched and not unread,
        # A dry run pushes nothing: report the difference without failing on it.
        severity=dg.AssetCheckSeverity.WARN if dry_run else dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def _not_evaluated(unread: dict[str, str]) -> str:
    first = next(iter(unread.values())).splitlines()[0]
    return f"Not evaluated for {', '.join(sorted(unread))}: Opik could not be read ({first})."
