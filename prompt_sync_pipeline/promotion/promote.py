"""``promote``: point an environment at a composite version when the evidence says it is better.

Two gates. The **paired** gate (the default) compares the two versions item by item over the
dataset items both were scored on, and passes when at least ``min_items`` items were paired and
the confidence interval of the mean difference lies above ``min_delta``. The **mean** gate (for
experiments without per-item scores) compares the experiments' means, as prompt-sync always did.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..performance.paired import check_level, paired_comparison
from ..sync.formatting import version_label
from .engine import holder, performance_of
from .gate import GATES, GateKind, PairedDecision, judge
from .models import Outcome, ReleaseResult, ReleaseUsageError, choose_metric, compare
from .wording import evidence_lines, refusal

if TYPE_CHECKING:
    from .engine import Releaser
    from .requests import Promotion


def promote(releaser: Releaser, asked: Promotion) -> ReleaseResult:
    settings = releaser.config.promotion  # what was not asked for
    composite, force, dry_run = asked.composite, asked.force, asked.dry_run
    releaser.check_composite(composite)
    environment = settings.environment if asked.environment is None else asked.environment
    gate = _gate(asked.gate)
    level = settings.level if asked.level is None else asked.level
    try:
        check_level(level)
    except ValueError as exc:
        raise ReleaseUsageError(f"--level: {exc}") from None
    min_delta = settings.min_delta if asked.min_delta is None else asked.min_delta
    min_items = settings.min_items if asked.min_items is None else asked.min_items
    if min_items < 2:
        raise ReleaseUsageError(f"--min-items {min_items}: an interval needs at least 2 items")
    releaser.check_environment(environment)

    history = releaser.history(composite)
    candidate = (
        releaser.by_label(history, asked.version)
        if asked.version
        else releaser.charters(composite, history)
    )
    current = holder(history, environment)
    if current is not None and current.id == candidate.id:
        return ReleaseResult(
            "promote",
            composite,
            "unchanged",
            f"{environment} already points to {composite} {version_label(candidate)}",
            environment=environment,
            version=candidate.version_number,
            previous=candidate.version_number,
        )

    performance = releaser.performance(composite)
    candidate_perf = performance_of(performance, candidate)
    current_perf = performance_of(performance, current) if current else None
    if asked.metric is not None:
        metric, source = asked.metric, "given with --metric"
    elif settings.metric is not None:
        metric, source = settings.metric, "promotion.metric in the configuration"
    else:
        metric, source = None, ""
    chosen, metric_reason = choose_metric(
        candidate_perf, current_perf, metric, known=performance.metrics, source=source
    )
    comparison = compare(candidate_perf, current_perf, chosen, min_delta)
    paired: PairedDecision | None = None
    if gate == "paired":
        evidence = None
        if current_perf is not None and chosen is not None:
            evidence = releaser.items.compare(candidate_perf, current_perf, chosen, level=level)
        elif current_perf is not None:  # no metric to compare on: no pairs
            evidence = paired_comparison({}, {}, metric="", level=level)
        paired = judge(evidence, min_delta=min_delta, min_items=min_items)
        passes = paired.passes
    else:
        passes = comparison.passes

    was = current.version_number if current else None
    label = candidate.version_number or candidate.commit
    evidence_of = partial(
        ReleaseResult,
        comparison=comparison,
        gate=gate,
        paired=paired,
        metric_reason=metric_reason,
        details=tuple(evidence_lines(gate, comparison, paired, environment, metric_reason)),
    )
    if not passes and not force:
        again = partial(releaser.fixes.promote, composite, environment, label)
        return evidence_of(
            "promote",
            composite,
            "refused",
            refusal(
                composite,
                environment,
                comparison,
                paired,
                metric_reason,
                force=again(force=True),
                mean=again(gate="mean") if gate == "paired" else None,
            ),
            details=(),  # the refusal's message tells it all
            environment=environment,
            version=was,
            previous=was,
        )
    outcome: Outcome = "promoted" if passes else "forced"
    despite = "" if passes else f" with --force, despite the {gate} gate"
    if dry_run:
        return evidence_of(
            "promote",
            composite,
            "would_promote",
            f"dry run: would point {environment} at {composite} {version_label(candidate)}"
            + (f" (now {was})" if was else "")
            + despite,
            environment=environment,
            version=was,
            previous=was,
        )
    record = paired if gate == "paired" and passes else None
    notes = releaser.move(environment, candidate, current, record=True, evidence=record)
    return evidence_of(
        "promote",
        composite,
        outcome,
        f"promoted {composite} {version_label(candidate)} to {environment}{despite}"
        + (f" (was {was})" if was else " (it pointed to no version before)"),
        environment=environment,
        version=candidate.version_number,
        previous=was,
        notes=notes,
    )


def _gate(asked: str | None) -> GateKind:
    if asked is None:
        return GATES[0]  # the default
    for gate in GATES:
        if gate == asked:
            return gate
    raise ReleaseUsageError(f"--gate {asked!r}: choose {' or '.join(GATES)}")
