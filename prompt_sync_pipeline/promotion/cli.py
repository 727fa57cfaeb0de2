"""``prompt-sync promote`` and ``prompt-sync rollback``.

Exit status: 0 done (or nothing to do, nothing to roll back), 1 refused or Opik failed (nothing
moved), 2 bad usage (an unknown composite, version, environment or metric, or a metric to choose:
the message lists the valid names).

``--json`` prints ``ReleaseResult.to_json()``::

    {"action": "promote" | "rollback", "composite", "outcome", "ok", "message",
     "environment", "version", "previous",
     "gate": "paired" | "mean" | null, "metric_reason": str | null,
     "paired": null | {"verdict", "passes", "min_delta", "min_items", "items_needed",
                       "metric", "level", "n_paired", "candidate_mean", "current_mean",
                       "mean_difference", "standard_deviation", "standard_error",
                       "interval": [low, high] | null,
                       "gains" / "losses": [{"dataset", "dataset_item_id", "candidate",
                                             "current", "difference"}],   # five at most each
                       "unpaired": {"candidate", "current"}, "datasets"},
     "comparison": null | {"metric", "datasets", "min_delta", "required",
                           "candidate": {"version", "score", "experiments"},
                           "current": ... | null, "passes"},   # the experiment means
     "next_sync": null | {"composite", "version", "pulled", "reason",
                          "parts": [{"prompt", "role", "charter", "rolled_back",
                                     "decision": "adopt" | "keep_local" | "conflict",
                                     "why", "adopted", "spreads_to"}],
                          "changes": [composite]},
     "details": [str], "notes": [str]}

``outcome`` is one of promoted, forced, would_promote, refused, unchanged, nothing_to_roll_back,
rolled_back, would_roll_back, restored, would_restore; ``paired.verdict`` one of passes,
nothing_to_beat, no_pairs, too_few_items, not_enough_evidence, not_better.
"""

from __future__ import annotations

import json

from ..errors import ExitCode
from ..opik.project import OpikProject
from ..sync.config import SyncConfig
from ..sync.messages import Fixes
from .engine import Releaser
from .models import ReleaseResult
from .requests import Promotion, Rollback


def release(
    config: SyncConfig,
    opik: OpikProject,
    request: Promotion | Rollback,
    *,
    as_json: bool = False,
    fixes: Fixes | None = None,
) -> int:
    """Carry out ``request`` (a promote or a rollback) and print its result. A ``ReleaseUsageError``
    (exit 2), a ``ReleaseRefused`` or an ``OpikError`` (exit 1) is left to the command line,
    which words it (as JSON with ``--json``)."""
    result = Releaser(config, opik, fixes).carry_out(request)
    if as_json:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print(render(result))
    return ExitCode.OK if result.ok else ExitCode.FAILED


def render(result: ReleaseResult) -> str:
    """The message, the evidence or what the next sync does, and the notes."""
    lines = [result.message]
    lines += [f"  {line}" for detail in result.details for line in detail.splitlines()]
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)
