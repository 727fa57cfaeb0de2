"""What a run did: one action per prompt and step, the six counters, and readable renderings."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Step = Literal["pull", "individual", "composite"]
Outcome = Literal[
    "adopted",  # pull: a prompt took Opik's text
    "kept_local",  # pull: the charter changed a part; the push sends it
    "unchanged",  # Opik already holds what the charter holds
    "recorded_base",  # Opik's version already equals the charter: recorded as the new base
    "absent",  # pull: the composite is not in Opik (or its environment) yet
    "created",  # push: a new version (or would be, in a dry run)
    "conflict",  # changed on both sides, or a write race: resolve with --keep-*
    "malformed",  # pull: Opik's composite can't be split into the charter's parts
    "failed",  # Opik refused or could not be reached
    "blocked",  # push: held back by a conflict
]
STEPS: tuple[Step, ...] = ("pull", "individual", "composite")
# What each outcome means, for people: printed next to the label (the labels stay as they are
# in --json and in Dagster's metadata).
_MEANINGS: dict[Outcome, str] = {
    "adopted": "took Opik's text into the charter",
    "kept_local": "the charter's edit wins; the push sends it",
    "unchanged": "the same in the charter and in Opik",
    "recorded_base": "Opik already matches the charter: recorded as agreed",
    "absent": "not in Opik yet; a push creates it",
    "created": "new version in Opik",
    "conflict": "changed in the charter and in Opik: see how to resolve it",
    "malformed": "Opik's version can't be split into the charter's parts",
    "failed": "did not go through: the reason follows",
    "blocked": "held back: the reason follows",
}


def meaning(outcome: Outcome, step: Step, *, dry_run: bool = False) -> str:
    """What ``outcome`` means, in words a user knows."""
    if outcome == "created" and dry_run:
        return "a new version in Opik, in a real run"
    if outcome == "unchanged" and step != "pull":
        return "Opik already holds it"
    return _MEANINGS[outcome]


COUNTERS = (
    "pull_changed",
    "pull_failed",
    "individual_synced",
    "individual_failed",
    "composite_synced",
    "composite_failed",
)


@dataclass(frozen=True)
class Action:
    """One thing the sync did, or would do in a dry run, to one prompt in one step.

    ``subject`` is an individual prompt name, or a composite name for composite pulls and pushes.
    """

    step: Step
    subject: str
    outcome: Outcome
    ok: bool = True
    reason: str = ""
    version: str | None = None
    diff: str = ""


@dataclass
class SyncReport:
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    def add(self, *actions: Action) -> None:
        self.actions.extend(actions)

    def steps(self, step: Step) -> list[Action]:
        return [a for a in self.actions if a.step == step]

    @property
    def counters(self) -> dict[str, int]:
        pull = self.steps("pull")
        individual = self.steps("individual")
        composite = self.steps("composite")
        return {
            "pull_changed": sum(a.outcome == "adopted" for a in pull),
            "pull_failed": sum(not a.ok for a in pull),
            "individual_synced": sum(a.ok for a in individual),
            "individual_failed": sum(not a.ok for a in individual),
            "composite_synced": sum(a.ok for a in composite),
            "composite_failed": sum(not a.ok for a in composite),
        }

    @property
    def failed(self) -> bool:
        return any(not a.ok for a in self.actions)

    def breakdown(self) -> dict[str, dict[str, int]]:
        """Per step, how many prompts ended in each outcome (created, unchanged, conflict, ...)."""
        result: dict[str, dict[str, int]] = {}
        for step in STEPS:
            result[step] = dict(sorted(Counter(a.outcome for a in self.steps(step)).items()))
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            **self.counters,
            "dry_run": self.dry_run,
            "failed": self.failed,
            "breakdown": self.breakdown(),
            "warnings": list(self.warnings),
            "actions": [asdict(a) for a in self.actions],
        }

    def summary_line(self) -> str:
        return " ".join(f"{name}={value}" for name, value in self.counters.items())


@dataclass(frozen=True)
class FailureGroup:
    """Failed actions of one step with the same outcome and reason (e.g. Opik went down)."""

    step: Step
    outcome: Outcome
    reason: str
    subjects: list[str]

    @property
    def count(self) -> str:
        """E.g. "4 prompts" or "3 composites" (the pull and composite steps act on composites)."""
        noun = "prompts" if self.step == "individual" else "composites"
        return f"{len(self.subjects)} {noun}"

    def line(self) -> str:
        """One line for a run's failure summary, with the reason's first line."""
        reason = self.reason.splitlines()[0] if self.reason else ""
        if len(self.subjects) == 1:
            head = f"{self.step} `{self.subjects[0]}`: {self.outcome}"
        else:
            names = ", ".join(f"`{s}`" for s in self.subjects)
            head = f"{self.step}: {self.count} {self.outcome} ({names})"
        return head + (f" ({reason})" if reason else "")


def group_failures(actions: list[Action]) -> list[FailureGroup]:
    """Failed actions grouped by step, outcome and reason, in the order first seen: an error that
    hits every prompt is reported once with the count, not once per prompt."""
    groups: dict[tuple[str, str, str], FailureGroup] = {}
    for action in actions:
        if action.ok:
            continue
        key = (action.step, action.outcome, action.reason)
        if key not in groups:
            groups[key] = FailureGroup(action.step, action.outcome, action.reason, [])
        groups[key].subjects.append(action.subject)
    return list(groups.values())


STEP_TITLES: dict[Step, str] = {
    "pull": "Pull",
    "individual": "Individual prompts",
    "composite": "Composites",
}


def render_report(
    report: SyncReport, *, show_diffs: bool = False, failures_only: bool = False
) -> list[str]:
    """The report as the CLI prints it: per step, one line per prompt with the outcome, what it
    means and the version, then its reasons (a failure shared by many prompts once, with the
    count), the warnings, then the counters. ``failures_only`` keeps the prompts that failed:
    what a failed Dagster run says."""
    lines: list[str] = []
    for step in STEPS:
        actions = [a for a in report.steps(step) if not (failures_only and a.ok)]
        if not actions:
            continue
        lines.append(f"{STEP_TITLES[step]}{' (dry run)' if report.dry_run else ''}:")
        # The same failure on many prompts (e.g. Opik went away) is printed once, with the count.
        shared = {(g.outcome, g.reason): g for g in group_failures(actions) if len(g.subjects) > 1}
        printed: set[tuple[str, str]] = set()
        for action in actions:
            key = (action.outcome, action.reason)
            group = None if action.ok else shared.get(key)
            if group is not None:
                if key in printed:
                    continue  # printed with its group
                printed.add(key)
            mark = " " if action.ok else "!"
            version = f" {action.version}" if action.version else ""
            subject = action.subject
            if group is not None:
                subject = f"{group.count}: {', '.join(group.subjects)}"
            explained = meaning(action.outcome, step, dry_run=report.dry_run)
            lines.append(f" {mark} {action.outcome:<13} {subject}{version}  ({explained})")
            if action.reason and (not action.ok or step == "pull"):
                lines.extend(f"      {line}" for line in action.reason.splitlines())
            if show_diffs and action.diff:
                lines.extend(f"      {line}" for line in action.diff.splitlines())
    lines.extend(f"warning: {warning}" for warning in report.warnings)
    lines.append(report.summary_line())
    return lines
