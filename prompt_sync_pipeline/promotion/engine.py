"""Promotion and rollback of a composite in Opik: move an environment, or restore a version.

Every move prompt-sync makes records, on the version it moves the environment to, where the
environment pointed before: the version tag ``prompt-sync-env:<environment>:from:<commit>``.
Opik keeps versions' environments but no history of their moves, so this tag is what lets
``rollback --environment`` step back one promotion at a time, for every copy of the charter.
"""

from __future__ import annotations

import re
from functools import cached_property

from ..opik import RemoteVersion
from ..opik.project import OpikProject
from ..performance import PromptPerformance, VersionPerformance
from ..performance.engine import prompt_performance, read_versions
from ..performance.evidence import ItemReader
from ..sync import composites as comp
from ..sync.charter import load_charter
from ..sync.config import SyncConfig
from ..sync.formatting import version_number
from ..sync.messages import Fixes
from ..sync.state import SyncState, load_state
from .gate import PairedDecision, evidence_prefix, evidence_tag
from .models import ReleaseRefused, ReleaseResult, ReleaseUsageError
from .requests import Promotion, Rollback

ENV_TAG_PREFIX = "prompt-sync-env:"
_TAG_LIMIT = 100  # Opik's longest version tag
_VERSION_LABEL = re.compile(r"^v\d+$")


def env_tag(environment: str, previous: RemoteVersion | None) -> str:
    return f"{ENV_TAG_PREFIX}{environment}:from:{previous.commit if previous else 'none'}"


def recorded_previous(version: RemoteVersion, environment: str) -> str | None:
    """The commit the environment pointed to before prompt-sync moved it to ``version``;
    ``"none"`` when it pointed nowhere; None when no move of prompt-sync's is recorded."""
    prefix = f"{ENV_TAG_PREFIX}{environment}:from:"
    found = [t.removeprefix(prefix) for t in version.tags if t.startswith(prefix)]
    return found[-1] if found else None


class Releaser:
    """Promotes and rolls back the composites of one configuration in one Opik project.

    It lives for one command, one op or one sensor tick, and keeps what it read of Opik for
    that long (a tick judges several versions of a composite on the same reads); its own
    writes make it forget.
    """

    def __init__(self, config: SyncConfig, opik: OpikProject, fixes: Fixes | None = None) -> None:
        self.config = config
        self.opik = opik
        self.prompts = opik.prompts
        self.fixes = fixes or Fixes()
        self._histories: dict[str, list[RemoteVersion]] = {}
        self._performances: dict[str, PromptPerformance] = {}
        self._environments: list[str] | None = None

    @cached_property
    def items(self) -> ItemReader:
        """Experiments' per-item scores, each experiment read once."""
        return ItemReader(self.opik, self.config.opik.max_concurrency)

    # Promote and roll back ---------------------------------------------------------------------

    def carry_out(self, request: Promotion | Rollback) -> ReleaseResult:
        """Promote or roll back, as ``request`` asks."""
        if isinstance(request, Promotion):
            return self.promote(request)
        return self.rollback(request)

    def promote(self, request: Promotion) -> ReleaseResult:
        """Point the environment at the version (default: the charter's current composite) if
        the gate passes: by default the paired gate (the interval of the per-item difference
        above ``min_delta``, at least ``min_items`` pairs); ``gate="mean"``: the experiment
        means. Values left None come from the configuration's ``promotion:`` section."""
        from .promote import promote

        return promote(self, request)

    def rollback(self, request: Rollback) -> ReleaseResult:
        """Move an environment back, or restore an earlier version as the newest one; either
        way the result says what the next sync will do (``dry_run``: only says it)."""
        from .rollback import rollback

        return rollback(self, request)

    # Opik --------------------------------------------------------------------------------------

    def move(
        self,
        environment: str,
        target: RemoteVersion,
        current: RemoteVersion | None,
        *,
        record: bool,
        evidence: PairedDecision | None = None,
    ) -> tuple[str, ...]:
        """Point ``environment`` at ``target``; with ``record``, tag where it came from first
        (and the paired gate's ``evidence``, replacing an older one), so a failed write never
        leaves an environment moved without its record."""
        self._forget()
        notes: tuple[str, ...] = ()
        if record:
            tag = env_tag(environment, current)
            if len(tag) <= _TAG_LIMIT:
                prefixes = (f"{ENV_TAG_PREFIX}{environment}:", evidence_prefix(environment))
                kept = [t for t in target.tags if not t.startswith(prefixes)]
                proof = evidence_tag(environment, evidence) if evidence else None
                if proof is not None and len(proof) <= _TAG_LIMIT:
                    kept.append(proof)
                self.prompts.set_tags(target.id, [*kept, tag])
            else:
                notes = (
                    f"environment name too long to record the move in a {_TAG_LIMIT}-character "
                    "version tag: a later rollback needs --to",
                )
        # The list replaces the version's environments: keep the ones it already holds.
        self.prompts.set_environments(
            target.id, list(dict.fromkeys([*target.environments, environment]))
        )
        return notes

    def restore(self, version: RemoteVersion) -> RemoteVersion:
        """Save ``version``'s content as the composite's new latest version."""
        self._forget()
        return self.prompts.restore_version(version.prompt_id, version.id)

    def _forget(self) -> None:
        self._histories.clear()
        self._performances.clear()

    def history(self, composite: str) -> list[RemoteVersion]:
        """The composite's versions in Opik, newest first."""
        if composite not in self._histories:
            self._histories[composite] = self._read_history(composite)
        return self._histories[composite]

    def _read_history(self, composite: str) -> list[RemoteVersion]:
        versions = read_versions(self.opik, composite)
        if versions is None:
            raise ReleaseRefused(
                f"{composite} is not in Opik project {self.config.opik.project_name} yet: "
                f"run {self.fixes.sync()} first"
            )
        return sorted(versions, key=number, reverse=True)

    def performance(self, composite: str) -> PromptPerformance:
        """The composite's versions with their experiments (on the history already read)."""
        if composite not in self._performances:
            history = self.history(composite)
            experiments = self.opik.experiments.for_prompt(history[0].prompt_id)
            self._performances[composite] = prompt_performance(
                composite, "composite", history, experiments
            )
        return self._performances[composite]

    def charters(self, composite: str, history: list[RemoteVersion]) -> RemoteVersion:
        """The newest version whose content is the charter's rebuild of the composite."""
        charter = load_charter(self.config.charter)
        spec = self.config.composites[composite]
        for name in spec.parts().values():
            if name not in charter:
                raise ReleaseUsageError(f"the charter has no prompt {name!r} (used by {composite})")
        parts = comp.Parts(charter[spec.system_prompt].template, charter[spec.user_prompt].template)
        expected = (parts.messages(), charter[spec.system_prompt].type)
        for version in history:
            try:
                messages = comp.parse_chat_template(version.template)
            except comp.MalformedComposite:
                continue
            if (messages, version.type) == expected:
                return version
        raise ReleaseRefused(
            f"no version of {composite} in Opik matches the charter's composite: push it first "
            f"({self.fixes.sync()}), or name a version with --version vN"
        )

    def by_label(self, history: list[RemoteVersion], label: str) -> RemoteVersion:
        if not _VERSION_LABEL.match(label):
            raise ReleaseUsageError(f"{label!r} is not a version: write it as v3")
        found = next((v for v in history if v.version_number == label), None)
        if found is None:
            newest = history[0].version_number
            raise ReleaseUsageError(f"no version {label} (the newest is {newest})")
        return found

    def check_composite(self, composite: str) -> None:
        if composite not in self.config.composites:
            raise ReleaseUsageError(
                f"{composite!r} is not a composite of the configuration; it manages "
                + ", ".join(self.config.composites)
            )

    def state(self) -> SyncState | None:
        """This copy's sync state (what the next sync decides against); None without one."""
        return load_state(
            self.config.state_path,
            workspace=self.opik.workspace,
            project=self.config.opik.project_name,
            fixes=self.fixes,
        )

    def check_environment(self, environment: str) -> None:
        if self._environments is None:
            self._environments = self.prompts.environment_names()
        known = self._environments
        if environment not in known:
            raise ReleaseUsageError(
                f"environment {environment!r} is not registered in the Opik workspace "
                f"(it has {', '.join(known) or 'none'}); create it in Opik first"
            )


def holder(history: list[RemoteVersion], environment: str) -> RemoteVersion | None:
    return next((v for v in history if environment in v.environments), None)


def number(version: RemoteVersion) -> tuple[int, str]:
    return (version_number(version.version_number), version.id)


def performance_of(performance: PromptPerformance, version: RemoteVersion) -> VersionPerformance:
    found = next((v for v in performance.versions if v.id == version.id), None)
    # A version created between the two reads has no experiments yet.
    return found or VersionPerformance(
        version.id, version.version_number or version.commit, version.commit, None, False
    )
