"""The performance view as a terminal table and as markdown (Dagster metadata): the same rows.

Per prompt, one row per version with its mean score per metric (``*`` / bold marks the best
version of each metric), each followed by one row per experiment that used it. Versions without
experiments are shown only when they are the current or previous one, so a long history stays
readable; the others are counted in a note.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from .models import PerformanceReport, PromptPerformance, VersionPerformance
from .paired import PairedComparison, percent

HEADERS = ("version", "commit", "created (UTC)", "by", "experiment", "dataset", "traces")
_NUMERIC_COLUMNS = {"traces"}
_NO_SCORE = "-"


def score(value: float | None) -> str:
    return _NO_SCORE if value is None else f"{value:.4f}"


def signed(value: float) -> str:
    return f"{value:+.4f}"


def headline(prompt: PromptPerformance, metric: str | None = None) -> str:
    """``name (kind)`` plus why there is no table, when there is none."""
    title = f"{prompt.name} ({prompt.kind})"
    match prompt.status:
        case "failed":
            return f"{title}: failed: {prompt.error}"
        case "not_in_opik":
            return f"{title}: not in Opik"
        case "no_experiments":
            scoring = f" scoring {metric}" if metric else ""
            return f"{title}: no experiments{scoring} ({_plural(len(prompt.versions), 'version')})"
    return f"{title}: {_plural(prompt.experiment_count, 'experiment')}"


def trend(prompt: PromptPerformance) -> str | None:
    """The current version against the previous one, per metric scored on both."""
    current, previous = prompt.current, prompt.previous
    if current is None or previous is None or prompt.status != "ok":
        return None
    label = f"current {current.version} vs previous {previous.version}"
    if not prompt.current_vs_previous:
        return f"{label}: no metric scored on both"
    changes = ", ".join(f"{m} {signed(d)}" for m, d in sorted(prompt.current_vs_previous.items()))
    return f"{label}: {changes}"


@dataclass(frozen=True)
class Row:
    """One table row: its cells, and which of them hold a best score (marked by the renderer)."""

    cells: list[str]
    best: frozenset[int] = frozenset()


def rows(prompt: PromptPerformance) -> Iterator[Row]:
    """The table's rows, without headers: each shown version, then its experiments."""
    metrics = prompt.metrics
    for version in _shown_versions(prompt):
        means = version.scores
        count = len(version.experiments)
        summary = "none" if count == 0 else f"mean of {count}" if count > 1 else "1 experiment"
        yield Row(
            [
                version.version,
                version.commit,
                _when(version.created_at),
                "prompt-sync" if version.created_by_tool else "other",
                summary,
                "",
                str(sum(e.trace_count or 0 for e in version.experiments)) if count else "",
                *(score(means.get(m)) for m in metrics),
            ],
            frozenset(
                len(HEADERS) + i
                for i, m in enumerate(metrics)
                if prompt.best.get(m) == version.version
            ),
        )
        for experiment in version.experiments:
            yield Row(
                [
                    "",
                    "",
                    _when(experiment.created_at),
                    "",
                    experiment.name,
                    experiment.dataset or "",
                    "" if experiment.trace_count is None else str(experiment.trace_count),
                    *(score(experiment.scores.get(m)) for m in metrics),
                ]
            )


def _hidden_versions(prompt: PromptPerformance) -> int:
    return len(prompt.versions) - len(_shown_versions(prompt))


def write_text(report: PerformanceReport, out: TextIO) -> None:
    """The terminal view: a table per prompt with experiments, one line for each without."""
    scope = f", metric {report.metric}" if report.metric else ""
    print(f"Experiment scores per prompt version in Opik project {report.project}{scope}", file=out)
    print("(a version's score is the mean of its experiments' means; * marks the best)", file=out)
    if report.level is not None:
        print(_paired_legend(report), file=out)
    for prompt in report.prompts:
        print(file=out)
        print(headline(prompt, report.metric), file=out)
        if prompt.status != "ok":
            continue
        header = [*HEADERS, *prompt.metrics]
        # Every score gets a two-character mark column, so decimals stay aligned.
        body = [
            [
                f"{c} *" if i in row.best else f"{c}  " if i >= len(HEADERS) else c
                for i, c in enumerate(row.cells)
            ]
            for row in rows(prompt)
        ]
        widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
        numeric = _numeric_columns(header)
        print(
            "  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
            file=out,
        )
        for cells in body:
            aligned = (
                c.rjust(w) if i in numeric else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            print("  " + "  ".join(aligned).rstrip(), file=out)
        for note in _notes(prompt):
            print(f"  {note}", file=out)


def to_markdown(report: PerformanceReport) -> str:
    """The same view as markdown, for Dagster's asset metadata."""
    scope = f", metric {_md(report.metric)}" if report.metric else ""
    lines = [
        f"Experiment scores per prompt version in Opik project {_md(report.project)}{scope}. "
        "A version's score is the mean of its experiments' means; **bold** marks the best."
        + (f" {_md(_paired_legend(report))}" if report.level is not None else ""),
    ]
    for prompt in report.prompts:
        lines += ["", f"#### {_md(headline(prompt, report.metric))}"]
        if prompt.status != "ok":
            continue
        header = [*HEADERS, *prompt.metrics]
        numeric = _numeric_columns(header)
        rule = ["---:" if i in numeric else "---" for i in range(len(header))]
        lines += ["", _md_row([_md(h) for h in header]), _md_row(rule)]
        for row in rows(prompt):
            lines.append(
                _md_row(
                    [f"**{_md(c)}**" if i in row.best else _md(c) for i, c in enumerate(row.cells)]
                )
            )
        notes = list(_notes(prompt))
        if notes:
            lines += ["", *(_md(note) for note in notes)]
    return "\n".join(lines) + "\n"


def _paired_legend(report: PerformanceReport) -> str:
    against = f"previous version and {report.environment}'s" if report.environment else "previous"
    return (
        f"(paired: the current composite version minus the {against}, item by item over the "
        "dataset items both were scored on: mean difference [confidence interval])"
    )


def _numeric_columns(header: list[str]) -> set[int]:
    return {i for i, h in enumerate(header) if i >= len(HEADERS) or h in _NUMERIC_COLUMNS}


def _shown_versions(prompt: PromptPerformance) -> list[VersionPerformance]:
    current_and_previous = {v.id for v in prompt.versions[:2]}
    return [v for v in prompt.versions if v.experiments or v.id in current_and_previous]


def paired_lines(prompt: PromptPerformance) -> Iterator[str]:
    """The current version against the previous one and the environment's, item by item:
    ``current v3 vs previous v2, paired: accuracy +0.3500 [+0.2691, +0.4309] (95%, n=40)``."""
    for row in prompt.paired:
        if row.other is None:
            yield f"{row.title}: no such version"
        elif row.other == row.candidate:
            yield f"{row.title}: the same version"
        elif not row.comparisons:
            yield f"{row.title}, paired: no metric scored on both over a shared dataset"
        else:
            cells = ", ".join(
                f"{metric} {paired_cell(c)}" for metric, c in sorted(row.comparisons.items())
            )
            yield f"{row.title}, paired: {cells}"


def paired_cell(c: PairedComparison) -> str:
    if c.mean_difference is None:
        return "no paired items"
    if c.low is None or c.high is None:
        return f"{signed(c.mean_difference)} (n={c.n}, no interval)"
    return (
        f"{signed(c.mean_difference)} [{signed(c.low)}, {signed(c.high)}] "
        f"({percent(c.level)}, n={c.n})"
    )


def _notes(prompt: PromptPerformance) -> Iterator[str]:
    if line := trend(prompt):
        yield line
    yield from paired_lines(prompt)
    if hidden := _hidden_versions(prompt):
        yield f"({_plural(hidden, 'older version')} without experiments not shown)"
    if prompt.unlisted_experiments:
        yield (
            f"({_plural(prompt.unlisted_experiments, 'experiment')} used versions "
            "Opik no longer lists, not shown)"
        )


def _when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is not None:  # Opik answers in UTC; say so whatever the offset given
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _md(text: str) -> str:
    # Prompt and experiment names are free text: keep them from breaking the table or markup.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"
