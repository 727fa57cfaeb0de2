"""Materialization metadata: integer counters (the UI plots them over time) and markdown summaries.

Counters are emitted with every known outcome, zeros included, so each plot has a point per run.
Summaries fit the asset page: one row per prompt with short columns; anything long (a reason,
a diff) is an entry of its own (``notes``, ``diff: <prompt>``), opened with "Show Markdown".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from prompt_sync_pipeline.delivery import GitOutcome
from prompt_sync_pipeline.sync.config import SyncConfig
from prompt_sync_pipeline.sync.decide import PartChange
from prompt_sync_pipeline.sync.formatting import labelled_diff, version_label
from prompt_sync_pipeline.sync.plan import PullPlan
from prompt_sync_pipeline.sync.report import Action, Step, SyncReport

# The outcomes each step can report (``Action.outcome``), for zero-filled breakdowns.
OUTCOMES: dict[Step, tuple[str, ...]] = {
    "pull": (
        "adopted",
        "kept_local",
        "unchanged",
        "recorded_base",
        "absent",
        "conflict",
        "malformed",
        "failed",
    ),
    "individual": ("created", "unchanged", "blocked", "failed"),
    "composite": ("created", "unchanged", "recorded_base", "blocked", "failed"),
}
STEP_COUNTERS: dict[Step, tuple[str, str]] = {
    "pull": ("pull_changed", "pull_failed"),
    "individual": ("individual_synced", "individual_failed"),
    "composite": ("composite_synced", "composite_failed"),
}
DECISIONS = {
    "adopt": "changed in Opik: the pull adopts it",
    "keep_local": "changed in the charter: the push sends it",
    "conflict": "conflict: changed on both sides",
}
# The same, in a few words for a table cell.
SHORT_DECISIONS = {"adopt": "Opik ahead", "keep_local": "charter ahead", "conflict": "conflict"}
DIFF_PREFIX = "diff: "


def step_metadata(
    report: SyncReport, step: Step, versions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A step's two counters, its outcome breakdown, its summary table, diffs and warnings.

    ``versions`` gives the Opik version of subjects whose actions don't carry one (the pull's).
    """
    actions = report.steps(step)
    counters = report.counters
    metadata: dict[str, Any] = {
        name: dg.MetadataValue.int(counters[name]) for name in STEP_COUNTERS[step]
    }
    metadata.update(outcome_counts(actions, OUTCOMES[step]))
    metadata["dry_run"] = dg.MetadataValue.bool(report.dry_run)
    metadata["summary"] = dg.MetadataValue.md(actions_table(actions, versions))
    notes = [f"`{a.subject}` ({a.outcome}): {a.reason}" for a in actions if a.reason]
    if notes:
        metadata["notes"] = dg.MetadataValue.md(bullets(notes))
    metadata.update(diff_entries(actions))
    if report.warnings:
        metadata["warnings"] = dg.MetadataValue.md(bullets(report.warnings))
    return metadata


def pull_versions(plan: PullPlan) -> dict[str, str]:
    """The Opik version each pull action is about: a composite's, or an adopted prompt's source."""
    versions = {
        name: version_label(read.pulled) for name, read in plan.reads.items() if read.pulled
    }
    for change in plan.changes:
        if change.decision == "adopt":
            versions.setdefault(change.prompt, f"{change.composite} {change.remote_label}")
    return versions


def outcome_counts(actions: Iterable[Action], known: Iterable[str]) -> dict[str, Any]:
    counts = dict.fromkeys(known, 0)
    for action in actions:
        counts[action.outcome] = counts.get(action.outcome, 0) + 1
    return {f"outcome_{name}": dg.MetadataValue.int(n) for name, n in counts.items()}


def actions_table(actions: Iterable[Action], versions: Mapping[str, str] | None = None) -> str:
    """One row per prompt: name, outcome, version; the reasons go to ``notes``."""
    rows = [
        "| Prompt | Action | Opik version |",
        "| --- | --- | --- |",
    ]
    for action in actions:
        version = action.version or (versions or {}).get(action.subject) or "—"
        mark = "" if action.ok else " ⚠"
        rows.append(f"| `{action.subject}` | {action.outcome}{mark} | {_cell(version)} |")
    if len(rows) == 2:
        rows.append("| — | nothing to do | |")
    return "\n".join(rows)


def diff_entries(actions: Iterable[Action]) -> dict[str, Any]:
    """Each changed prompt's diff as its own entry, ``diff: <prompt>``."""
    return {
        f"{DIFF_PREFIX}{a.subject}": dg.MetadataValue.md(
            f"#### `{a.subject}` ({a.outcome})\n```diff\n{a.diff.rstrip()}\n```"
        )
        for a in actions
        if a.diff
    }


def bullets(lines: Iterable[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def opik_composites_metadata(
    config: SyncConfig, plan: PullPlan, preview: SyncReport
) -> dict[str, Any]:
    """Each composite as Opik holds it, split into its parts, and each part's drift."""
    changes = {(c.composite, c.role): c for c in plan.changes}
    rows = [
        "| Composite | Opik version | System | User |",
        "| --- | --- | --- | --- |",
    ]
    problems: dict[str, str] = {}
    decomposed: dict[str, Any] = {}
    for name, spec in config.composites.items():
        read = plan.reads.get(name)
        pulled = read.pulled if read else None
        state: dict[str, str] = {}
        if read is None or read.error:
            problem, short = f"read failed: {read.error if read else 'not read'}", "read failed"
        elif name in plan.failures:
            problem, short = f"can't be split: {plan.failures[name].reason}", "can't be split"
        elif pulled is None:
            problem, short = "not in Opik yet: the push creates it", "new"
        else:
            problem, short = "", ""
            for role in spec.parts():
                change = changes.get((name, role))
                state[role] = SHORT_DECISIONS[change.decision] if change else "in sync"
        if problem:
            problems[name] = problem
        cells = [state.get("system", short), state.get("user", short)]
        rows.append(
            f"| `{name}` | {version_label(pulled)} | {_cell(cells[0])} | {_cell(cells[1])} |"
        )
        decomposed[name] = {
            "opik_version": version_label(pulled),
            "problem": problem or None,
            "parts": {
                role: {"prompt": prompt, "state": state.get(role)}
                for role, prompt in spec.parts().items()
            },
        }
    decisions = [c.decision for c in plan.changes]
    metadata: dict[str, Any] = {
        "composites": dg.MetadataValue.int(len(config.composites)),
        "composites_in_sync": dg.MetadataValue.int(
            sum(
                1
                for name in config.composites
                if name not in plan.failures
                and (r := plan.reads.get(name)) is not None
                and not r.error
                and r.pulled is not None
                and not any(c.composite == name for c in plan.changes)
            )
        ),
        "parts_adoptable": dg.MetadataValue.int(decisions.count("adopt")),
        "parts_charter_ahead": dg.MetadataValue.int(decisions.count("keep_local")),
        "parts_conflicting": dg.MetadataValue.int(decisions.count("conflict")),
        **step_metadata(preview, "pull", pull_versions(plan)),
        "summary": dg.MetadataValue.md("\n".join(rows)),
        "decomposed": dg.MetadataValue.json(decomposed),
    }
    if problems:
        metadata["problems"] = dg.MetadataValue.md(
            bullets(f"`{name}`: {text}" for name, text in problems.items())
        )
    # The drift below shows the same differences per composite; a preview changes nothing.
    for key in [k for k in metadata if k.startswith(DIFF_PREFIX)]:
        del metadata[key]
    metadata.pop("dry_run", None)
    if plan.changes:
        metadata["drift"] = dg.MetadataValue.md(drift_markdown(plan.changes))
    return metadata


def drift_markdown(changes: Iterable[PartChange]) -> str:
    """Per drifting part: what the charter has, what Opik has, and the decision."""
    blocks = []
    for change in changes:
        diff = labelled_diff(
            change.local, change.remote, "charter", f"Opik {change.composite} {change.remote_label}"
        )
        blocks.append(
            f"#### `{change.composite}`, {change.role} message (`{change.prompt}`): "
            f"{DECISIONS[change.decision]}\n"
            + (f"{change.why}\n" if change.why else "")
            + f"```diff\n{diff.rstrip()}\n```"
        )
    return "\n\n".join(blocks)


def git_metadata(outcome: GitOutcome) -> dict[str, Any]:
    """The commit that delivered the pull, and the day's branch when it was pushed: links when
    the remote is a GitHub/GitLab HTTPS URL, else the sha and the branch name."""
    metadata: dict[str, Any] = {}
    if outcome.commit:
        metadata["git_commit"] = (
            dg.MetadataValue.url(outcome.commit_url)
            if outcome.commit_url
            else dg.MetadataValue.text(outcome.commit)
        )
    if outcome.branch:
        metadata["git_branch"] = (
            dg.MetadataValue.url(outcome.branch_url)
            if outcome.branch_url
            else dg.MetadataValue.text(outcome.branch)
        )
    return metadata


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
