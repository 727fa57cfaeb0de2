"""How a promotion's evidence is told: the refusal, and the lines under a decision."""

from __future__ import annotations

from ..performance.paired import DEFAULT_POWER, Mover, percent
from .gate import PairedDecision, interval_text
from .models import Comparison, describe_side


def refusal(
    composite: str,
    environment: str,
    comparison: Comparison,
    paired: PairedDecision | None,
    metric_reason: str | None,
    *,
    force: str,
    mean: str | None,
) -> str:
    """Why the gate refused, with the numbers, and the commands that promote anyway."""
    current = comparison.current
    assert current is not None  # nothing to beat always passes
    candidate = comparison.candidate.version
    if paired is None:  # the mean gate
        lines = [
            f"refused: {composite} {candidate} does not beat {environment}'s {current.version}"
            + (f" on {comparison.metric}" if comparison.metric else "")
            + " (mean gate)"
        ]
        if metric_reason:
            lines.append(f"metric: {comparison.metric or 'none'} ({metric_reason})")
        if not comparison.comparable:
            datasets = ", ".join(comparison.datasets) or "none"
            lines.append(
                "no experiments to compare: both versions need experiments scoring "
                + (comparison.metric or "the same metric")
                + f" on the same dataset (shared datasets: {datasets})"
            )
        lines.append(describe_side("candidate", comparison.candidate, comparison.metric))
        lines.append(describe_side(f"{environment}'s", current, comparison.metric))
        if comparison.required is not None:
            lines.append(
                f"required: at least {comparison.required:.4f} "
                f"({environment}'s score {comparison.min_delta:+.4f}), "
                f"over datasets {', '.join(comparison.datasets)}"
            )
        lines.append(f"{force} promotes it anyway")
        return "\n  ".join(lines)

    lines = [
        f"refused: {composite} {candidate} is not shown to beat {environment}'s "
        f"{current.version} by more than {paired.min_delta:+.4f}"
        + (f" on {comparison.metric}" if comparison.metric else "")
        + " (paired gate)"
    ]
    evidence = paired_lines(paired, candidate, f"{environment}'s {current.version}", metric_reason)
    movers = [line for line in evidence if line.startswith("biggest ")]
    lines += [line for line in evidence if line not in movers]
    lines.append(verdict_line(paired, candidate))
    lines.append(
        f"required: at least {paired.min_items} paired items and the interval's lower bound "
        f"above min-delta {paired.min_delta:+.4f}"
    )
    if paired.verdict in ("not_enough_evidence", "too_few_items"):
        lines.append(needed_line(paired))
    lines += movers
    lines.append(
        f"{force} promotes it anyway" + (f"; {mean} compares the means only" if mean else "")
    )
    return "\n  ".join(lines)


def verdict_line(decision: PairedDecision, candidate: str) -> str:
    c = decision.comparison
    delta = f"{decision.min_delta:+.4f}"
    match decision.verdict:
        case "no_pairs":
            return (
                f"no pairs: no dataset item was scored on "
                f"{c.metric if c and c.metric else 'a metric both share'} for both versions "
                "(experiments on different datasets never pair)"
            )
        case "too_few_items":
            n = c.n if c else 0
            return f"too few paired items: {n}, and the gate needs at least {decision.min_items}"
        case "not_enough_evidence":
            return f"not enough evidence: the interval holds min-delta {delta}"
        case "not_better":
            return f"{candidate} is not better: the whole interval is at or below min-delta {delta}"
        case "passes":
            return f"the interval lies above min-delta {delta}"
    return "nothing to beat"


def needed_line(decision: PairedDecision) -> str:
    c = decision.comparison
    if c is None or c.mean_difference is None:
        return "items needed: pair the versions on one dataset first"
    if decision.items_needed is None:
        if c.standard_deviation is None:
            return "items needed: unknown with fewer than 2 pairs"
        return (
            f"items needed: none would do as things stand: the observed difference "
            f"{c.mean_difference:+.4f} is not above min-delta {decision.min_delta:+.4f}"
        )
    return (
        f"items needed: about {decision.items_needed} paired items would tell "
        f"{c.mean_difference:+.4f} from {decision.min_delta:+.4f} at {percent(c.level)} "
        f"({DEFAULT_POWER:.0%} of the time, if the difference and its spread hold); "
        f"{c.n} were paired"
    )


def paired_lines(
    decision: PairedDecision, candidate: str, current: str, metric_reason: str | None
) -> list[str]:
    """The evidence: metric, pairs, both means, the difference and its interval, the movers."""
    c = decision.comparison
    if c is None:
        return []
    lines = []
    if metric_reason and c.metric:
        lines.append(f"metric: {c.metric} ({metric_reason})")
    elif metric_reason:
        lines.append(f"metric: none ({metric_reason})")
    if c.n:
        unpaired = c.candidate_only + c.current_only
        lines.append(
            f"paired items: {c.n} on {', '.join(c.datasets)}"
            + (f" ({unpaired} scored for one version only, left out)" if unpaired else "")
            + f"; means over them: candidate {candidate} {c.candidate_mean:.4f}, "
            f"{current} {c.current_mean:.4f}"
        )
        lines.append(f"mean difference: {interval_text(c)}")
        lines.append("biggest gains: " + movers(c.gains))
        lines.append("biggest losses: " + movers(c.losses))
    return lines


def movers(found: tuple[Mover, ...]) -> str:
    if not found:
        return "none"
    return "; ".join(
        f"item {m.item_id} {m.difference:+.4f} ({m.current:.4f} -> {m.candidate:.4f})"
        for m in found
    )


def evidence_lines(
    gate: str,
    comparison: Comparison,
    paired: PairedDecision | None,
    environment: str,
    metric_reason: str | None,
) -> list[str]:
    """Under a promotion (done, forced or a dry run): which gate ran, on what evidence."""
    current = comparison.current
    if current is None:
        return [f"gate: {gate}; {environment} held no version before: nothing to beat"]
    if paired is None:
        return [
            "gate: mean (each version's mean of its experiments' means; no per-item pairing)",
            f"metric: {comparison.metric or 'none'} ({metric_reason})",
            describe_side("candidate", comparison.candidate, comparison.metric),
            describe_side(f"{environment}'s", current, comparison.metric),
        ]
    candidate = comparison.candidate.version
    return [
        f"gate: paired; {verdict_line(paired, candidate)}",
        *paired_lines(paired, candidate, f"{environment}'s {current.version}", metric_reason),
    ]
