"""The sync state as one run uses it: loaded once, the project's listing, and the entries the
run changed, merged back into the file by the step that changed them (under the charter lock).

A step saves only its own entries over the file as it is then, so Dagster's steps (each holding
the lock for itself) and a CLI run in between never undo each other's records.
"""

from __future__ import annotations

import logging
import threading

from ..opik import OpikError, RemotePrompt, RemoteVersion
from ..opik.project import OpikProject
from .atomic import atomic_write_text
from .config import SyncConfig
from .messages import Fixes
from .state import (
    CompositeBase,
    IndividualSeen,
    SyncState,
    parse_state,
    read_state_text,
)

log = logging.getLogger(__name__)


class RunState:
    """What this charter copy last agreed with Opik, plus what this run has agreed so far.

    With ``rebuild=True`` the file is not read (it may be broken): every base comes from Opik's
    provenance records, as at first contact, and the first save replaces the file.
    """

    def __init__(
        self, config: SyncConfig, opik: OpikProject, fixes: Fixes, *, rebuild: bool = False
    ) -> None:
        self.path = config.state_path
        self._opik = opik
        self._fixes = fixes
        self._project = config.opik.project_name
        self._replace_on_save = rebuild
        self._lock = threading.Lock()
        self._loaded = rebuild
        self._state: SyncState | None = None
        self._listing: dict[str, RemotePrompt] | None = None
        self._listed = False
        self._composites: dict[str, CompositeBase] = {}
        self._individuals: dict[str, IndividualSeen] = {}
        self._file: tuple[str, SyncState] | None = None  # the file as last read or written

    # Lookups run on every worker for every prompt: after the one-time load and listing they
    # take no lock (a dict read is atomic), or the workers queue behind each other.

    def load(self) -> SyncState | None:
        """The file's state, None at first contact; raises ``StateError`` when it is unusable."""
        if self._loaded:
            return self._state
        with self._lock:
            if not self._loaded:
                self._state = self._parsed(read_state_text(self.path, self._fixes))
                self._loaded = True
            return self._state

    def listing(self) -> dict[str, RemotePrompt] | None:
        """The project's prompts, listed once per run; None if the listing failed (then every
        prompt is read, as without a state)."""
        if self._listed:
            return self._listing
        with self._lock:
            if not self._listed:
                try:
                    self._listing = self._opik.prompts.list_prompts()
                except OpikError as exc:
                    log.warning("could not list Opik's prompts (%s); reading every prompt", exc)
                    self._listing = None
                self._listed = True
            return self._listing

    def listed(self, name: str) -> RemotePrompt | None:
        return (self.listing() or {}).get(name)

    def absent_from_opik(self, name: str) -> bool:
        """True when the listing shows no such prompt and this copy never saw one: no read."""
        listing = self.listing()
        return listing is not None and name not in listing and self._seen(name) is None

    def own(self, name: str, version: RemoteVersion | None) -> RemoteVersion | None:
        """``version`` if it is a version of this project's prompt ``name``, else None.

        Opik looks a name up in every project of the workspace when this one has no prompt of
        that name (its name fallback): another charter's prompt of the same name is not ours."""
        listing = self.listing()
        if version is None or listing is None:
            return version  # without a listing, nothing to tell them apart by
        listed = listing.get(name)
        return version if listed is not None and listed.id == version.prompt_id else None

    def is_new(self, name: str) -> bool:
        """True when the listing shows no prompt ``name`` in this project: a push creates it
        here first, or Opik's name fallback would add the version to another project's."""
        listing = self.listing()
        return listing is not None and name not in listing

    def unchanged_in_opik(self, entry: CompositeBase | IndividualSeen | None, name: str) -> bool:
        """True when the listing shows the prompt exactly as this copy last recorded it."""
        listed = self.listed(name)
        return (
            entry is not None
            and listed is not None
            and (listed.id, listed.version_count) == (entry.prompt_id, entry.version_count)
        )

    def count_after(self, name: str, prompt_id: str, created: int) -> int:
        """The ``version_count`` to record for a prompt this run left with ``created`` new
        versions. Never more than this run knows: a lower count only costs a read next time."""
        listing = self.listing()
        if listing is None:
            return 0
        listed = listing.get(name)
        if listed is None:  # this run created the prompt
            return created
        return listed.version_count + created if listed.id == prompt_id else 0

    def composite(self, name: str) -> CompositeBase | None:
        entry = self._composites.get(name)
        if entry is None:
            state = self.load()
            entry = state.composites.get(name) if state else None
        return entry

    def individual(self, name: str) -> IndividualSeen | None:
        entry = self._individuals.get(name)
        if entry is None:
            state = self.load()
            entry = state.individuals.get(name) if state else None
        return entry

    def record_composite(self, name: str, entry: CompositeBase) -> None:
        """Remember ``entry`` for the next save (nothing to save when it is already recorded)."""
        if self.composite(name) != entry:
            with self._lock:
                self._composites[name] = entry

    def record_individual(self, name: str, entry: IndividualSeen) -> None:
        if self.individual(name) != entry:
            with self._lock:
                self._individuals[name] = entry

    def save(self) -> bool:
        """Merge this run's entries into the file as it is now; True when the file changed."""
        with self._lock:
            if not (self._composites or self._individuals or self._replace_on_save):
                return False
            on_disk = read_state_text(self.path, self._fixes)
            current = None if self._replace_on_save else self._parsed(on_disk)
            if current is None:
                current = SyncState(workspace=self._opik.workspace, project=self._project)
            merged = current.model_copy(
                update={
                    "composites": {**current.composites, **self._composites},
                    "individuals": {**current.individuals, **self._individuals},
                }
            )
            self._replace_on_save = False
            text = merged.render()
            self._file = (text, merged)
            if text == on_disk:
                return False
            atomic_write_text(self.path, text)
            return True

    def _parsed(self, text: str | None) -> SyncState | None:
        """The state in the file's ``text``, parsed only when the file changed since this run
        last read or wrote it (another writer in between): a large state is slow to parse (the
        README's "Performance, measured"), and a run saves after each step."""
        if text is None:
            return None
        if self._file is None or self._file[0] != text:
            state = parse_state(
                self.path,
                text,
                workspace=self._opik.workspace,
                project=self._project,
                fixes=self._fixes,
            )
            self._file = (text, state)
        return self._file[1]

    def _seen(self, name: str) -> CompositeBase | IndividualSeen | None:
        return self.composite(name) or self.individual(name)
