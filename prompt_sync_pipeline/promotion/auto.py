"""The opt-in gate that promotes by itself (``promotion.auto``), as one plain function the
``opik_prompt_changes`` sensor calls on each tick.

A tick makes **one** listing more than the sensor already does: the workspace's newest experiments
(one page, newest first). An experiment whose fingerprint (its traces and score means) the cursor
has not seen, and that is linked to a version of a managed composite, is new evidence: that version
is judged by the paired gate against the version the configured environment points to, exactly as
``prompt-sync promote --dry-run`` would judge it. A pass is due as one promotion, with the run key
``<composite>@v<N>:<environment>``; the cursor remembers the keys it handed out, so the same
version and environment are promoted once, even before the run has moved anything. A refusal is a
skip reason, never a failure. A tick with nothing new reads nothing else.

An experiment still running changes its fingerprint as its scores arrive, so it is judged again on
a later tick when it has more; an experiment with no score yet is not judged at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError
from ..opik import OpikError, RemotePrompt
from ..opik.project import OpikProject
from ..sync.config import SyncConfig
from ..sync.messages import Fixes
from .engine import Releaser
from .gate import compact
from .models import ReleaseRefused, ReleaseResult
from .requests import Promotion

log = logging.getLogger(__name__)

_KEPT_KEYS = 500  # run keys remembered (the newest); an older key would only be deduplicated
# by Dagster's own run keys


@dataclass(frozen=True)
class DuePromotion:
    """A version the gate passed: the promote job's run to request."""

    composite: str
    version: str  # vN
    environment: str
    decision: ReleaseResult  # the gate's dry-run decision, numbers included

    @property
    def run_key(self) -> str:
        return f"{self.composite}@{self.version}:{self.environment}"

    def op_config(self) -> dict[str, Any]:
        """``prompt_promote_job``'s op config: the same gate, the version pinned."""
        return {
            "composite": self.composite,
            "environment": self.environment,
            "version": self.version,
        }

    def tags(self, prefix: str = "") -> dict[str, str]:
        """The decision and its numbers, as run tags (their names after ``prefix``)."""
        paired = self.decision.paired
        tags: dict[str, str] = {"decision": self.decision.outcome, "gate": self.decision.gate or ""}
        if paired is not None:
            tags["evidence"] = compact(paired)
            tags.update({name: f"{value:g}" for name, value in paired.numbers().items()})
        return {prefix + name: value for name, value in tags.items()}


@dataclass(frozen=True)
class AutoGateTick:
    """What one tick of the auto gate found."""

    promotions: tuple[DuePromotion, ...] = ()
    cursor: str | None = None  # None: the gate is off (the sensor's cursor stays as it was)
    skipped: tuple[str, ...] = ()  # refusals and errors, in words


@dataclass
class _Cursor:
    seen: dict[str, str] = field(default_factory=dict)  # experiment id -> fingerprint
    requested: list[str] = field(default_factory=list)  # run keys handed to runs

    @classmethod
    def read(cls, text: str | None) -> _Cursor:
        try:
            raw = json.loads(text) if text else {}
            seen = {str(k): str(v) for k, v in raw.get("experiments", {}).items()}
            return cls(seen, [str(key) for key in raw.get("requested", [])])
        except (ValueError, TypeError, AttributeError):
            return cls()  # an unreadable cursor costs one look at the newest experiments

    def write(self) -> str:
        requested = self.requested[-_KEPT_KEYS:]
        return json.dumps({"experiments": dict(sorted(self.seen.items())), "requested": requested})


def auto_promotions(
    config: SyncConfig,
    opik: OpikProject,
    cursor: str | None,
    listing: Mapping[str, RemotePrompt],
    fixes: Fixes | None = None,
) -> AutoGateTick:
    """The promotions due since ``cursor`` (the gate's part of the sensor's cursor), the new
    cursor and the reasons it skipped versions; ``listing`` is the sensor's listing of the
    project's prompts. Off (no request) without ``promotion.auto``."""
    settings = config.promotion
    if not settings.auto:
        return AutoGateTick()
    state = _Cursor.read(cursor)
    experiments = opik.experiments.newest()
    composites = {listing[name].id: name for name in config.composites if name in listing}
    fresh: dict[str, str] = {}  # experiment id -> fingerprint, scored and not seen before
    candidates: dict[str, dict[str, list[str]]] = {}  # composite -> version id -> experiments
    for experiment in experiments:
        if not experiment.scores or state.seen.get(experiment.id) == experiment.fingerprint:
            continue  # nothing scored yet, or nothing new since it was judged
        fresh[experiment.id] = experiment.fingerprint
        for link in experiment.links:
            name = composites.get(link.prompt_id or "")
            if name is not None and link.version_id:
                candidates.setdefault(name, {}).setdefault(link.version_id, []).append(
                    experiment.id
                )
    releaser = Releaser(config, opik, fixes)
    due: list[DuePromotion] = []
    skipped: list[str] = []
    failed: set[str] = set()  # experiments to look at again on the next tick
    for name, versions in sorted(candidates.items()):
        try:
            found = _judge(releaser, name, versions, settings.environment, state.requested)
        except OpikError as exc:  # judged again on the next tick
            skipped.append(f"{name}: the auto gate could not read Opik: {exc}")
            failed.update(e for ids in versions.values() for e in ids)
            continue
        except (UsageError, ReleaseRefused) as exc:  # judged again on new evidence
            skipped.append(f"{name}: the auto gate can't judge it: {exc}")
            continue
        due += found.promotions
        skipped += found.skipped
    state.seen = {
        e.id: fresh.get(e.id, state.seen.get(e.id, ""))
        for e in experiments
        if e.id not in failed and (e.id in fresh or e.id in state.seen)
    }
    state.requested += [p.run_key for p in due]
    return AutoGateTick(tuple(due), state.write(), tuple(skipped))


def _judge(
    releaser: Releaser,
    composite: str,
    versions: Mapping[str, list[str]],
    environment: str,
    requested: list[str],
) -> AutoGateTick:
    """Each version with new experiments against the environment's version; the passing one
    with the highest lower bound is due (one promotion per composite and tick)."""
    labels = {v.id: v.version_number for v in releaser.history(composite)}
    passed: list[DuePromotion] = []
    skipped: list[str] = []
    for version_id in versions:
        label = labels.get(version_id)
        if label is None:
            continue  # a version deleted since its experiment
        decision = releaser.promote(Promotion(composite, environment, version=label, dry_run=True))
        if decision.outcome == "would_promote":
            promotion = DuePromotion(composite, label, environment, decision)
            if promotion.run_key not in requested:
                passed.append(promotion)
        elif decision.outcome == "refused":
            evidence = compact(decision.paired) if decision.paired else "no evidence"
            verdict = decision.paired.verdict if decision.paired else "refused"
            skipped.append(
                f"{composite} {label} not promoted to {environment}: "
                f"{verdict.replace('_', ' ')} ({evidence})"
            )
    if len(passed) > 1:
        passed.sort(key=_lower_bound, reverse=True)
        for other in passed[1:]:
            skipped.append(
                f"{composite} {other.version} passes too, but {passed[0].version} has the higher "
                "lower bound: one promotion per composite and tick"
            )
    return AutoGateTick(tuple(passed[:1]), None, tuple(skipped))


def _lower_bound(promotion: DuePromotion) -> float:
    paired = promotion.decision.paired
    comparison = paired.comparison if paired else None
    return comparison.low if comparison and comparison.low is not None else float("-inf")


# The sensor's cursor: the watcher's (``sync.watch``) and, with the auto gate, the gate's. ------


def split_cursor(cursor: str | None) -> tuple[str | None, str | None]:
    """(the watcher's cursor, the gate's); a cursor written before the gate is the watcher's."""
    try:
        raw = json.loads(cursor) if cursor else None
    except ValueError:
        return cursor, None
    if isinstance(raw, dict) and raw.get("format") == "prompt-sync-sensor/2":
        prompts, promotion = raw.get("prompts"), raw.get("promotion")
        return (
            json.dumps(prompts) if prompts is not None else None,
            json.dumps(promotion) if promotion is not None else None,
        )
    return cursor, None


def join_cursor(prompts: str | None, promotion: str | None) -> str | None:
    """The sensor's cursor; without the gate's part, the watcher's exactly as before."""
    if promotion is None:
        return prompts
    return json.dumps(
        {
            "format": "prompt-sync-sensor/2",
            "prompts": json.loads(prompts) if prompts else None,
            "promotion": json.loads(promotion),
        }
    )
