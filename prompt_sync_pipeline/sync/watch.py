"""Which composites have a version in Opik that this charter copy has not seen: the cheap check
behind the ``opik_prompt_changes`` sensor, from one listing of the project's prompts.

"Seen" means recorded in the sync state file beside the charter (what the last sync saw), or
already handed to a run by the watcher itself (its cursor), so one new version starts one run
even while that run is still going, or after it failed. Without a state file (a charter copy that
never synced), every composite in Opik is unseen until the watcher hands it to a run once: a pull
with nothing to adopt changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from ..opik import RemotePrompt
from .state import SyncState

Seen = dict[str, tuple[str, int]]  # composite -> (prompt id, version_count) handed to a run


def unseen_versions(
    listing: Mapping[str, RemotePrompt],
    names: Iterable[str],
    state: SyncState | None,
    requested: Mapping[str, tuple[str, int]],
) -> dict[str, RemotePrompt]:
    """The composites among ``names`` whose listing entry neither the state nor ``requested``
    has seen, with that entry (``version_count`` is the newest version's number)."""
    names = list(names)
    changed = set(state.changed_in_opik(listing, names)) if state is not None else set(names)
    unseen = {}
    for name in names:
        listed = listing.get(name)
        if listed is None or name not in changed:
            continue
        if tuple(requested.get(name, ())) == (listed.id, listed.version_count):
            continue
        unseen[name] = listed
    return unseen


def run_key(unseen: Mapping[str, RemotePrompt]) -> str:
    """``<composite>@v<N>`` for the newest version; several composites joined by ``+``."""
    return "+".join(f"{name}@v{unseen[name].version_count}" for name in sorted(unseen))


def read_cursor(cursor: str | None) -> Seen:
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)
        return {str(name): (str(seen[0]), int(seen[1])) for name, seen in raw.items()}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return {}  # an unreadable cursor costs at most one extra pull


def write_cursor(seen: Mapping[str, tuple[str, int]]) -> str:
    return json.dumps({name: list(value) for name, value in sorted(seen.items())})
