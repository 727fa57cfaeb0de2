"""Bases: the last version of each composite this copy of the charter agreed with Opik.

The state file beside the charter holds them. A composite it has no entry for (first contact)
takes the newest version another copy recorded whose parts equal this charter's, when there is
one (``decide.first_contact_base``). Agreeing records a version as the new base: one the tool
pushed, or one someone else made that already equals the charter's rebuild (then a version tag
marks it, for the performance view and other copies' first contact; never a new version).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import NamedTuple

from ..opik.models import RemoteVersion
from ..opik.prompts import PromptLibrary
from . import composites as comp
from .charter import Charter
from .config import SyncConfig
from .decide import Base, Remote, first_contact_base
from .formatting import version_label
from .plan import CompositeRead
from .report import Action, Step
from .run_state import RunState
from .state import CompositeBase, PartBase, WriteRace


class Rebuild(NamedTuple):
    """A composite rebuilt from the charter: its messages, their template type, content hash
    and the chat template Opik stores (the SDK's ``json.dumps``)."""

    messages: list[dict[str, str]]
    template_type: str
    digest: str
    template: str


@functools.lru_cache(maxsize=65536)  # a run rebuilds each composite in every step
def rebuilt(system: str, user: str, template_type: str) -> Rebuild:
    messages = comp.Parts(system, user).messages()
    digest = comp.content_hash(messages, template_type)
    # The SDK's own serialisation (json.dumps defaults), so Opik's UI shows what the SDK would.
    return Rebuild(messages, template_type, digest, json.dumps(messages))


def messages_or_none(version: RemoteVersion) -> list[dict[str, object]] | None:
    if version.template_structure != "chat":
        return None
    try:
        return comp.parse_chat_template(version.template)
    except comp.MalformedComposite:
        return None


def remote_of(version: RemoteVersion) -> Remote:
    """Opik's version as the decision sees it (its template parsed once)."""
    parts: comp.Parts | None = None
    problem, recorded = "", False
    try:
        if version.template_structure != "chat":
            raise comp.MalformedComposite(
                f"is a {version.template_structure} prompt, not a chat prompt"
            )
        messages = comp.parse_chat_template(version.template)
        # A genuine provenance record: the content's own hash in a tag or in its own metadata.
        digest = comp.content_hash(messages, version.type or "mustache")
        recorded = comp.is_recorded_base(version.metadata, version.tags, digest, version.commit)
        parts = comp.decompose(messages, version.type)
    except comp.MalformedComposite as exc:
        problem = str(exc)
    return Remote(version.id, version_label(version), version.type, parts, problem, recorded)


def state_base(entry: CompositeBase) -> Base:
    """The state's record of this copy's last agreement, as the decision sees it."""
    hashes: dict[str, str] = {role: part.sha256 for role, part in entry.parts.items()}
    return Base(entry.version_id, version_label(entry), entry.template_type, hashes)


def first_contact_in(
    newest_first: Iterable[RemoteVersion], local: comp.Parts, local_type: str
) -> Base | None:
    """The base of a composite the state has no entry for (``decide.first_contact_base``),
    looked for in its versions, newest first, read only as far as needed."""
    hashes = {role: comp.text_sha256(local[role], local_type) for role in comp.ROLES}
    return first_contact_base(map(remote_of, newest_first), local, local_type, hashes)


class Bases:
    """The bases of one run: from the state, found at first contact, and newly agreed."""

    def __init__(
        self, config: SyncConfig, prompts: PromptLibrary, state: RunState, *, dry_run: bool
    ) -> None:
        self.config = config
        self.state = state
        self._prompts = prompts
        self._dry_run = dry_run
        self._found: dict[tuple[str, str], Base | None] = {}  # first contact, per charter
        self._found_lock = threading.Lock()
        self._rebuilds_seen: dict[str, tuple[Charter, CompositeBase, bool]] = {}

    def of(self, read: CompositeRead, charter: Charter) -> Base | None:
        """This copy's base: the state's entry; at first contact, the newest recorded version
        that equals the charter (history read only if the latest isn't one)."""
        entry = self.state.composite(read.name)
        if entry is not None:
            return state_base(entry)
        rebuild = self.rebuild(charter, read.name)
        key = (read.name, rebuild.digest)
        with self._found_lock:
            if key in self._found:
                return self._found[key]
        base = self._first_contact(read, charter) if read.latest is not None else None
        with self._found_lock:
            self._found[key] = base
        return base

    def _first_contact(self, read: CompositeRead, charter: Charter) -> Base | None:
        assert read.latest is not None
        spec = self.config.composites[read.name]
        local = charter.parts(spec.system_prompt, spec.user_prompt)
        return first_contact_in(
            self._newest_first(read.latest), local, charter[spec.system_prompt].type
        )

    def _newest_first(self, latest: RemoteVersion) -> Iterator[RemoteVersion]:
        # The latest version is usually the one: then no history read is needed.
        yield latest
        for version in self._prompts.history(latest.prompt_id):
            if version.id != latest.id:
                yield version

    def is_base(self, name: str, version: RemoteVersion | None, charter: Charter) -> bool:
        """True when ``version`` is the composite's base in the state and the charter still
        rebuilds it: every step decides such a composite without a request."""
        if version is None:
            return False
        entry = self.state.composite(name)
        return (
            entry is not None
            and entry.version_id == version.id
            and self.rebuilds_base(charter, name, entry)
        )

    def rebuilds_base(self, charter: Charter, name: str, entry: CompositeBase | None) -> bool:
        """True when the charter's rebuild of the composite is the state's base as recorded
        (same parts, texts and type, no write race): that version needs no parse or compare."""
        if entry is None or entry.write_race is not None:
            return False
        # Asked for every composite in every step: answered once per charter and entry.
        seen = self._rebuilds_seen.get(name)
        if seen is not None and seen[0] is charter and seen[1] is entry:
            return seen[2]
        rebuilds = self._same_parts(charter, name, entry)
        self._rebuilds_seen[name] = (charter, entry, rebuilds)
        return rebuilds

    def _same_parts(self, charter: Charter, name: str, entry: CompositeBase) -> bool:
        spec = self.config.composites[name]
        template_type = charter[spec.system_prompt].type
        if template_type != entry.template_type:
            return False
        for role, prompt in spec.roles():
            part = entry.parts.get(role)
            if part is None or part.prompt != prompt:
                return False
            if part.sha256 != comp.text_sha256(charter[prompt].template, template_type):
                return False
        return True

    def rebuild(self, charter: Charter, name: str) -> Rebuild:
        """The composite rebuilt from the charter."""
        spec = self.config.composites[name]
        system, user = charter[spec.system_prompt], charter[spec.user_prompt]
        return rebuilt(system.template, user.template, system.type)

    def agree(
        self,
        charter: Charter,
        name: str,
        version: RemoteVersion,
        version_count: int,
        race: WriteRace | None = None,
    ) -> None:
        """Record ``version`` (equal to the composite's rebuild from ``charter``) as the base."""
        spec = self.config.composites[name]
        template_type = charter[spec.system_prompt].type
        parts = {
            role: PartBase(
                prompt=prompt, sha256=comp.text_sha256(charter[prompt].template, template_type)
            )
            for role, prompt in spec.roles()
        }
        self.state.record_composite(
            name,
            CompositeBase(
                prompt_id=version.prompt_id,
                version_count=version_count,
                version_id=version.id,
                version_number=version.version_number,
                commit=version.commit,
                template_type=template_type,
                parts=parts,
                write_race=race,
            ),
        )

    def record_if_rebuilt(
        self,
        charter: Charter,
        read: CompositeRead,
        version: RemoteVersion,
        step: Step,
        *,
        write: bool = True,
    ) -> Action | None:
        """When ``version`` equals the rebuild, make it the base (a tag, never a new version).

        Returns None when it differs. The read is updated with the tag, so a later step of the
        same run doesn't tag it again.
        """
        name = read.name
        # Agreed: the state's base (the version count is current only when it is the latest).
        entry = self.state.composite(name)
        latest = read.latest is not None and read.latest.id == version.id
        count = self.state.count_after(name, version.prompt_id, 0) if latest else 0
        label = version_label(version)
        if (
            entry is not None
            and (entry.version_id, entry.version_count) == (version.id, count)
            and self.rebuilds_base(charter, name, entry)
        ):
            return Action(step, name, "unchanged", version=label)  # as recorded
        messages, template_type, digest, _ = self.rebuild(charter, name)
        if messages_or_none(version) != messages or version.type != template_type:
            return None
        already = (entry is not None and entry.version_id == version.id) or comp.is_recorded_base(
            version.metadata, version.tags, digest, version.commit
        )
        write = write and not self._dry_run
        if write and not already:  # provenance for the performance view and first contact
            tag = comp.base_tag(digest)
            self._prompts.add_tag(version.id, tag)
            tagged = replace(version, tags=[*version.tags, tag])
            if read.pulled is not None and read.pulled.id == version.id:
                read.pulled = tagged
            if read.latest is not None and read.latest.id == version.id:
                read.latest = tagged
        if write:
            self.agree(charter, name, version, count)
        if already:
            return Action(step, name, "unchanged", version=label)
        return Action(
            step,
            name,
            "recorded_base",
            version=label,
            reason="Opik's version matches the charter: recorded as the new base",
        )
