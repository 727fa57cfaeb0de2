"""Experiment scores for the commit message: each adopted Opik version against the version it
replaces, from the performance view. Optional: any failure leaves them out of the message."""

from __future__ import annotations

import logging
import re

from ..opik.project import OpikProject
from ..performance import collect_performance
from ..performance.models import PromptPerformance
from ..promotion.gate import recorded_evidence
from ..sync.config import SyncConfig
from ..sync.report import SyncReport

log = logging.getLogger(__name__)
# An adopted action's version: "composite 3 (commit), other 5 (commit)" (the engine's labels).
_SOURCE = re.compile(r"(?P<composite>[^,]+?) (?P<number>\S+) \((?P<commit>[^()]+)\)(?:, |$)")


def adopted_scores(config: SyncConfig, report: SyncReport) -> dict[str, list[str]]:
    """Adopted prompt -> one line per source version that has experiment scores."""
    sources = {
        action.subject: [m.groupdict() for m in _SOURCE.finditer(action.version or "")]
        for action in report.steps("pull")
        if action.outcome == "adopted"
    }
    composites = sorted({s["composite"] for found in sources.values() for s in found})
    if not composites:
        return {}
    try:
        with OpikProject.connect(config.opik) as opik:
            views = {name: collect_performance(config, opik, prompt=name) for name in composites}
    except Exception as exc:  # scores are a courtesy: never fail a delivery over them
        log.warning("experiment scores left out of the commit message: %s", exc)
        return {}
    lines: dict[str, list[str]] = {}
    for prompt, found in sources.items():
        for source in found:
            (view,) = views[source["composite"]].prompts
            line = _score_line(view, source["composite"], source["commit"])
            if line:
                lines.setdefault(prompt, []).append(line)
            if evidence := _evidence_line(config, view, source["composite"], source["commit"]):
                lines.setdefault(prompt, []).append(evidence)
    return lines


def _evidence_line(
    config: SyncConfig, view: PromptPerformance, composite: str, commit: str
) -> str | None:
    """With ``pull_environment``: the paired evidence that promoted the version there."""
    environment = config.opik.pull_environment
    version = next((v for v in view.versions if v.commit == commit), None)
    if environment is None or version is None:
        return None
    evidence = recorded_evidence(version.tags, environment)
    if evidence is None:
        return None
    return f"{composite} {version.version} promoted to {environment} on paired evidence: {evidence}"


def _score_line(view: PromptPerformance, composite: str, commit: str) -> str | None:
    versions = list(view.versions)  # newest first
    index = next((i for i, v in enumerate(versions) if v.commit == commit), None)
    if index is None or not versions[index].scores:
        return None
    adopted = versions[index]
    replaced = versions[index + 1] if index + 1 < len(versions) else None
    before = replaced.scores if replaced else {}
    scores = ", ".join(
        f"{metric} {value:.3g}"
        + (f" (was {before[metric]:.3g})" if metric in before else " (was not scored)")
        for metric, value in sorted(adopted.scores.items())
    )
    against = f" against {replaced.version}" if replaced else ""
    return f"{composite} {adopted.version} experiment scores{against}: {scores}"
