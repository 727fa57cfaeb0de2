"""The sync state: what this copy of the charter last agreed with Opik, in a file beside it.

The base of the three-way sync belongs to the charter's copy, as a remote-tracking ref belongs to
a git clone: a redeploy or a clone that never received a pull still knows Opik moved since *its*
last agreement. The file is committed to git with the charter. It is written for merges: sorted
keys, one entry per prompt, no timestamps, so two branches that synced different prompts merge
cleanly, and a no-op run leaves it byte for byte as it was.

It also remembers each prompt's ``version_count`` and id as the project's prompt listing showed
them, so one listing tells a run which prompts changed in Opik and need a read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import UsageError
from ..opik.models import RemotePrompt
from .bulk import collector_paused
from .messages import Fixes, unusable_state
from .validation import describe

STATE_FORMAT: Literal[1] = 1
_CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)


class StateError(UsageError):
    """The state file can't be used as it is; the message says how to recover. Nothing changed."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeenPrompt(_Record):
    """A prompt as the listing showed it: a different id or count means Opik has new versions."""

    prompt_id: str
    version_count: int = Field(ge=0)


class PartBase(_Record):
    """One message of a composite as both sides agreed: which charter prompt, and its hash."""

    prompt: str
    sha256: str


class VersionRef(_Record):
    """One version of a prompt in Opik, enough to find it again and to name it in a message."""

    version_id: str
    version_number: str | None = None
    commit: str


class WriteRace(_Record):
    """Another writer saved a version between this copy's read and its write: ``theirs`` is
    buried under ``ours``. Reported by every run until someone resolves it."""

    ours: VersionRef
    theirs: VersionRef


class CompositeBase(SeenPrompt):
    """The last version of a composite this charter copy and Opik agreed on.

    ``version_count`` is the listing's count when that version was also Opik's latest; 0 when
    it was not (a pull environment behind the latest, a write race): the next run reads it.
    """

    version_id: str
    version_number: str | None = None
    commit: str
    template_type: str
    parts: dict[Literal["system", "user"], PartBase]
    write_race: WriteRace | None = None


class IndividualSeen(SeenPrompt):
    """The last version of an individual text prompt the tool saw or pushed."""

    version_id: str
    version_number: str | None = None
    commit: str
    sha256: str


class SyncState(_Record):
    """The whole file."""

    format: Literal[1] = STATE_FORMAT
    workspace: str
    project: str
    composites: dict[str, CompositeBase] = {}
    individuals: dict[str, IndividualSeen] = {}

    def seen(self, name: str) -> SeenPrompt | None:
        return self.composites.get(name) or self.individuals.get(name)

    def changed_in_opik(self, listing: Mapping[str, RemotePrompt], names: list[str]) -> list[str]:
        """The names whose listing entry differs from what this copy last saw (or that it never
        saw): only these need a read."""
        changed = []
        for name in names:
            listed, seen = listing.get(name), self.seen(name)
            if listed is None and seen is None:
                continue  # in neither: nothing in Opik to read
            if (
                listed is None
                or seen is None
                or (listed.id, listed.version_count) != (seen.prompt_id, seen.version_count)
            ):
                changed.append(name)
        return changed

    def render(self) -> str:
        """The file's text: ``json.dumps(indent=2, sort_keys=True, ensure_ascii=False)``'s
        layout, written by pydantic's encoder (the standard one indents in pure Python, slowly,
        on every save)."""
        document = _sorted(self.model_dump(mode="json", exclude_none=True))
        return pydantic_core.to_json(document, indent=2).decode() + "\n"


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    return value  # the state holds no lists


def load_state(
    path: Path, *, workspace: str | None, project: str, fixes: Fixes
) -> SyncState | None:
    """The state beside the charter; None when there is none yet (first contact). Checked
    against ``workspace`` unless it is None (an offline check may not know it)."""
    text = read_state_text(path, fixes)
    if text is None:
        return None
    return parse_state(path, text, workspace=workspace, project=project, fixes=fixes)


def read_state_text(path: Path, fixes: Fixes) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(
            unusable_state(path, f"cannot read the sync state ({exc})", fixes)
        ) from None


def parse_state(
    path: Path, text: str, *, workspace: str | None, project: str, fixes: Fixes
) -> SyncState:
    """The state in ``text`` (read from ``path``), checked to belong to this Opik project (and
    workspace, unless None: an offline check may not know it)."""
    if _CONFLICT_MARKER.search(text):
        problem = "the sync state has git conflict markers (an unfinished merge)"
        raise StateError(unusable_state(path, problem, fixes, first="resolve them"))
    try:
        with collector_paused():
            state = SyncState.model_validate_json(text)
    except ValidationError as exc:
        problem = f"not a valid sync state ({describe(exc, SyncState)[0]})"
        raise StateError(unusable_state(path, problem, fixes)) from None
    if (state.workspace, state.project) != (workspace or state.workspace, project):
        problem = (
            f"the sync state belongs to Opik workspace {state.workspace!r}, project "
            f"{state.project!r}, but this run syncs "
            + (f"workspace {workspace!r}, " if workspace else "")
            + f"project {project!r}"
        )
        first = "point the configuration at the right project,"
        raise StateError(unusable_state(path, problem, fixes, first=first))
    return state
