"""Promotion and rollback of a composite in Opik: move an environment, or restore a version.

Every move prompt-sync makes records, on the version it moves the environment to, where the
environment pointed before: the version tag ``prompt-sync-env:<environment>:from:<commit>``.
Opik keeps versions' environments but no history of their moves, so this tag is what lets
``rollback --environment`` step back one promotion at a time, for every copy of the charter.
"""

from __future__ import annotations

import re

from ..opik import OpikError, RemoteVersion
from ..opik.project import OpikProject
from ..performance import PromptPerformance, VersionPerformance, collect_performance
from ..sync import composites as comp
from ..sync.charter import load_charter
from ..sync.config import SyncConfig
from ..sync.formatting import version_label
from ..sync.messages import Fixes
from .models import (
    Comparison,
    Outcome,
    ReleaseRefused,
    ReleaseResult,
    ReleaseUsageError,
    choose_metric,
    compare,
    describe_side,
)

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
    """Promotes and rolls back the composites of one configuration in one Opik project."""

    def __init__(self, config: SyncConfig, opik: OpikProject, fixes: Fixes | None = None) -> None:
        self.config = config
        self.opik = opik
        self.prompts = opik.prompts
        self.fixes = fixes or Fixes()

    # Promote ---------------------------------------------------------------------------------

    def promote(
        self,
        composite: str,
        environment: str,
        *,
        version: str | None = None,
        metric: str | None = None,
        min_delta: float = 0.0,
        force: bool = False,
        dry_run: bool = False,
    ) -> ReleaseResult:
        """Point ``environment`` at ``version`` (default: the charter's current composite) if its
        experiments score at least the environment's current version's plus ``min_delta``."""
        self._check_composite(composite)
        self._check_environment(environment)
        history = self._history(composite)
        candidate = (
            self._by_label(history, version) if version else self._charters(composite, history)
        )
        current = _holder(history, environment)
        if current is not None and current.id == candidate.id:
            return ReleaseResult(
                "promote",
                composite,
                "unchanged",
                f"{environment} already points to {composite} {version_label(candidate)}",
                environment=environment,
                version=candidate.version_number,
                previous=candidate.version_number,
            )
        performance = self._performance(composite, metric)
        candidate_perf = _performance_of(performance, candidate)
        current_perf = _performance_of(performance, current) if current else None
        chosen = choose_metric(candidate_perf, current_perf, metric)
        comparison = compare(candidate_perf, current_perf, chosen, min_delta)
        was = current.version_number if current else None
        if not comparison.passes and not force:
            return ReleaseResult(
                "promote",
                composite,
                "refused",
                _refusal(composite, environment, comparison),
                environment=environment,
                version=was,
                previous=was,
                comparison=comparison,
            )
        outcome: Outcome = "promoted" if comparison.passes else "forced"
        if dry_run:
            return ReleaseResult(
                "promote",
                composite,
                "would_promote",
                f"dry run: would point {environment} at {composite} {version_label(candidate)}"
                + (f" (now {was})" if was else "")
                + ("" if comparison.passes else ", with --force despite the scores"),
                environment=environment,
                version=was,
                previous=was,
                comparison=comparison,
            )
        notes = self._move(environment, candidate, current, record=True)
        forced = "" if outcome == "promoted" else " with --force, despite the scores"
        return ReleaseResult(
            "promote",
            composite,
            outcome,
            f"promoted {composite} {version_label(candidate)} to {environment}{forced}"
            + (f" (was {was})" if was else " (it pointed to no version before)"),
            environment=environment,
            version=candidate.version_number,
            previous=was,
            comparison=comparison,
            notes=notes,
        )

    # Roll back -------------------------------------------------------------------------------

    def rollback(
        self, composite: str, *, to: str | None = None, environment: str | None = None
    ) -> ReleaseResult:
        """With ``environment``: move it back (to ``to``, or where it pointed before the last
        promotion). Without: restore ``to`` (default: the previous version) as the new latest."""
        self._check_composite(composite)
        history = self._history(composite)
        if environment is None:
            return self._restore(composite, history, to)
        self._check_environment(environment)
        current = _holder(history, environment)
        if to is not None:
            target = self._by_label(history, to)
        else:
            target = self._recorded_target(composite, environment, history, current)
        if current is not None and current.id == target.id:
            return ReleaseResult(
                "rollback",
                composite,
                "unchanged",
                f"{environment} already points to {composite} {version_label(target)}",
                environment=environment,
                version=target.version_number,
                previous=target.version_number,
            )
        # An explicit target is a move like a promotion (recorded, so it can be undone); stepping
        # back along the record keeps the older records, so a second rollback steps further back.
        notes = self._move(environment, target, current, record=to is not None)
        was = current.version_number if current else None
        return ReleaseResult(
            "rollback",
            composite,
            "rolled_back",
            f"rolled {environment} back to {composite} {version_label(target)}"
            + (f" (was {was})" if was else ""),
            environment=environment,
            version=target.version_number,
            previous=was,
            notes=notes,
        )

    def _recorded_target(
        self,
        composite: str,
        environment: str,
        history: list[RemoteVersion],
        current: RemoteVersion | None,
    ) -> RemoteVersion:
        if current is None:
            raise ReleaseRefused(
                f"{environment} points to no version of {composite}: nothing to roll back"
            )
        previous = recorded_previous(current, environment)
        if previous is None:
            raise ReleaseRefused(
                f"{environment} points to {composite} {version_label(current)}, and Opik holds no "
                f"record of where it pointed before (it was not moved there by prompt-sync): "
                f"name the version with --to vN"
            )
        if previous == "none":
            raise ReleaseRefused(
                f"{environment} pointed to no version of {composite} before {version_label(current)}: "
                f"name a version with --to vN"
            )
        target = next((v for v in history if v.commit == previous), None)
        if target is None:
            raise ReleaseRefused(
                f"{environment} pointed to commit {previous} of {composite} before, which Opik "
                f"no longer lists: name a version with --to vN"
            )
        return target

    def _restore(
        self, composite: str, history: list[RemoteVersion], to: str | None
    ) -> ReleaseResult:
        latest = history[0]
        if to is not None:
            source = self._by_label(history, to)
        elif len(history) > 1:
            source = history[1]
        else:
            raise ReleaseRefused(
                f"{composite} has a single version in Opik ({version_label(latest)}): nothing to restore"
            )
        if source.id == latest.id:
            raise ReleaseRefused(
                f"{version_label(source)} is already the latest version of {composite}: nothing to restore"
            )
        restored = self.prompts.restore_version(source.prompt_id, source.id)
        notes = []
        if self.config.opik.pull_environment:
            notes.append(
                f"the sync pulls the version {self.config.opik.pull_environment} points to, not "
                f"the latest: roll that environment back with --environment to change what it pulls"
            )
        return ReleaseResult(
            "rollback",
            composite,
            "restored",
            f"restored {composite} {version_label(source)} as {version_label(restored)}, the new latest version "
            f"(it was {latest.version_number}); the next sync pulls it into the charter",
            environment=None,
            version=restored.version_number,
            previous=source.version_number,
            notes=tuple(notes),
        )

    # Opik --------------------------------------------------------------------------------------

    def _move(
        self,
        environment: str,
        target: RemoteVersion,
        current: RemoteVersion | None,
        *,
        record: bool,
    ) -> tuple[str, ...]:
        """Point ``environment`` at ``target``; with ``record``, tag where it came from first,
        so a failed write never leaves an environment moved without its record."""
        notes: tuple[str, ...] = ()
        if record:
            tag = env_tag(environment, current)
            if len(tag) <= _TAG_LIMIT:
                prefix = f"{ENV_TAG_PREFIX}{environment}:"
                kept = [t for t in target.tags if not t.startswith(prefix)]
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

    def _history(self, composite: str) -> list[RemoteVersion]:
        latest = self.prompts.get_version(composite)
        if latest is None:
            raise ReleaseRefused(
                f"{composite} is not in Opik project {self.config.opik.project_name} yet: "
                f"run {self.fixes.sync()} first"
            )
        versions = {v.id: v for v in self.prompts.history(latest.prompt_id)}
        versions.setdefault(latest.id, latest)
        return sorted(versions.values(), key=_number, reverse=True)

    def _performance(self, composite: str, metric: str | None) -> PromptPerformance:
        (performance,) = collect_performance(
            self.config, self.opik, prompt=composite, metric=metric
        ).prompts
        if performance.error is not None:
            raise OpikError(performance.error)
        return performance

    def _charters(self, composite: str, history: list[RemoteVersion]) -> RemoteVersion:
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

    def _by_label(self, history: list[RemoteVersion], label: str) -> RemoteVersion:
        if not _VERSION_LABEL.match(label):
            raise ReleaseUsageError(f"{label!r} is not a version: write it as v3")
        found = next((v for v in history if v.version_number == label), None)
        if found is None:
            newest = history[0].version_number
            raise ReleaseUsageError(f"no version {label} (the newest is {newest})")
        return found

    def _check_composite(self, composite: str) -> None:
        if composite not in self.config.composites:
            raise ReleaseUsageError(
                f"{composite!r} is not a composite of the configuration; it manages "
                + ", ".join(self.config.composites)
            )

    def _check_environment(self, environment: str) -> None:
        known = self.prompts.environment_names()
        if environment not in known:
            raise ReleaseUsageError(
                f"environment {environment!r} is not registered in the Opik workspace "
                f"(it has {', '.join(known) or 'none'}); create it in Opik first"
            )


def _holder(history: list[RemoteVersion], environment: str) -> RemoteVersion | None:
    return next((v for v in history if environment in v.environments), None)


def _performance_of(performance: PromptPerformance, version: RemoteVersion) -> VersionPerformance:
    found = next((v for v in performance.versions if v.id == version.id), None)
    # A version created between the two reads has no experiments yet.
    return found or VersionPerformance(
        version.id, version.version_number or version.commit, version.commit, None, False
    )


def _refusal(composite: str, environment: str, comparison: Comparison) -> str:
    assert comparison.current is not None
    lines = [
        f"refused: {composite} {comparison.candidate.version} does not beat {environment}'s "
        f"{comparison.current.version}" + (f" on {comparison.metric}" if comparison.metric else "")
    ]
    if not comparison.comparable:
        datasets = ", ".join(comparison.datasets) or "none"
        lines.append(
            "no experiments to compare: both versions need experiments scoring "
            + (comparison.metric or "a metric")
            + f" on the same dataset (shared datasets: {datasets})"
        )
    lines.append(describe_side("candidate", comparison.candidate, comparison.metric))
    lines.append(describe_side(f"{environment}'s", comparison.current, comparison.metric))
    if comparison.required is not None:
        lines.append(
            f"required: at least {comparison.required:.4f} "
            f"({environment}'s score {comparison.min_delta:+.4f}), "
            f"over datasets {', '.join(comparison.datasets)}"
        )
    lines.append("`--force` promotes it anyway")
    return "\n".join(lines)


def _number(version: RemoteVersion) -> tuple[int, str]:
    label = version.version_number or ""
    return (int(label[1:]) if _VERSION_LABEL.match(label) else -1, version.id)
