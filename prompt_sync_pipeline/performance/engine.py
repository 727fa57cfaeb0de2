"""Reads, per managed prompt, its versions and the experiments that used them, from Opik.

Three kinds of read per prompt: the latest version (which gives the prompt's id), the version
listing (100 per page) and the experiments linked to the prompt (100 per page). Prompts are read
concurrently on a pool bounded by ``opik.max_concurrency``, like the sync. A prompt whose reads
fail is reported as failed with Opik's message; the others are still reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from ..errors import UsageError
from ..opik import Experiment, OpikError, RemoteVersion
from ..opik.project import OpikProject
from ..sync import composites as comp
from ..sync.config import SyncConfig
from ..sync.formatting import version_number
from .evidence import ItemReader, with_paired_rows
from .models import ExperimentRun, Kind, PerformanceReport, PromptPerformance, VersionPerformance


class UnknownPrompt(UsageError):
    """``--prompt`` named a prompt the configuration does not manage."""


def managed_prompts(config: SyncConfig) -> list[tuple[str, Kind]]:
    """Composites in configuration order, then their parts in order of first use."""
    prompts: list[tuple[str, Kind]] = [(name, "composite") for name in config.composites]
    individuals = dict.fromkeys(
        part for spec in config.composites.values() for part in spec.parts().values()
    )
    return prompts + [(name, "individual") for name in individuals]


def paired_settings(
    config: SyncConfig, environment: str | None = None, level: float | None = None
) -> tuple[str, float]:
    """The environment to pair composites against, and the intervals' level: as given, else
    the configuration's ``promotion:`` values (or their defaults)."""
    settings = config.promotion
    return environment or settings.environment, settings.level if level is None else level


def collect_performance(
    config: SyncConfig,
    opik: OpikProject,
    *,
    prompt: str | None = None,
    metric: str | None = None,
    paired: bool = False,
    environment: str | None = None,
    level: float | None = None,
) -> PerformanceReport:
    """The performance view of every managed prompt (or just ``prompt``), optionally one metric.
    With ``paired``, each composite's current version is also compared item by item with the
    previous version and with the one ``environment`` points to (intervals at ``level``, else
    ``promotion.level``)."""
    prompts = managed_prompts(config)
    if prompt is not None:
        prompts = [(name, kind) for name, kind in prompts if name == prompt]
        if not prompts:
            raise UnknownPrompt(
                f"{prompt!r} is not a prompt of the configuration; it manages "
                + ", ".join(name for name, _ in managed_prompts(config))
            )
    workers = min(config.opik.max_concurrency, len(prompts))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prompt-perf") as pool:
        results = list(pool.map(lambda item: _read_prompt(opik, *item, metric=metric), prompts))
    if not paired:
        return PerformanceReport(opik.project_name, tuple(results), metric)
    if level is None:
        level = config.promotion.level
    reader = ItemReader(opik, config.opik.max_concurrency)
    results = [with_paired_rows(reader, p, environment, level) for p in results]
    return PerformanceReport(opik.project_name, tuple(results), metric, environment, level)


def read_versions(opik: OpikProject, name: str) -> list[RemoteVersion] | None:
    """The prompt's versions in Opik, newest first; None when it is not in Opik."""
    latest = opik.prompts.get_version(name)
    if latest is None:
        return None
    # The listing is read after the latest version, so it holds it unless it was deleted since.
    versions = {v.id: v for v in opik.prompts.history(latest.prompt_id)}
    versions.setdefault(latest.id, latest)
    return sorted(versions.values(), key=_newest_first)


def _read_prompt(
    opik: OpikProject, name: str, kind: Kind, *, metric: str | None
) -> PromptPerformance:
    try:
        versions = read_versions(opik, name)
        if versions is None:
            return PromptPerformance.missing(name, kind)
        experiments = list(opik.experiments.for_prompt(versions[0].prompt_id))
    except OpikError as exc:
        return PromptPerformance.failed(name, kind, str(exc))
    return prompt_performance(name, kind, versions, experiments, metric=metric)


def prompt_performance(
    name: str,
    kind: Kind,
    versions: Iterable[RemoteVersion],
    experiments: Iterable[Experiment],
    *,
    metric: str | None = None,
) -> PromptPerformance:
    """The performance view of one prompt from its versions and experiments, as read."""
    ordered = sorted(versions, key=_newest_first)
    prompt_id = ordered[0].prompt_id
    by_version: dict[str, list[ExperimentRun]] = {v.id: [] for v in ordered}
    by_commit = {v.commit: v.id for v in ordered}
    unlisted = 0
    for experiment in experiments:
        version_ids: set[str] = set()
        for version_id, commit in _linked_versions(experiment, prompt_id):
            found = version_id if version_id in by_version else by_commit.get(commit or "")
            if found is not None:
                version_ids.add(found)
        if not version_ids:
            unlisted += 1
            continue
        run = _experiment_run(experiment, metric)
        if metric is not None and not run.scores:
            continue  # asked for one metric: an experiment that didn't score it says nothing
        for version_id in version_ids:
            by_version[version_id].append(run)

    return PromptPerformance.build(
        name,
        kind,
        [_version_performance(v, by_version[v.id]) for v in ordered],
        unlisted_experiments=unlisted,
    )


def _linked_versions(experiment: Experiment, prompt_id: str) -> list[tuple[str | None, str | None]]:
    """(version id, commit) of each version of this prompt the experiment used."""
    return [
        (link.version_id, link.commit)
        for link in experiment.links
        # Links without a prompt id predate multi-prompt experiments: they are this prompt's,
        # since Opik only returned the experiment because it is linked to this prompt.
        if link.prompt_id in (None, prompt_id)
    ]


def _experiment_run(experiment: Experiment, metric: str | None) -> ExperimentRun:
    scores = experiment.scores
    if metric is not None:
        scores = {name: value for name, value in scores.items() if name == metric}
    return ExperimentRun(
        id=experiment.id,
        name=experiment.name,
        dataset=experiment.dataset_name,
        trace_count=experiment.trace_count,
        created_at=experiment.created_at,
        scores=scores,
        project_name=experiment.project_name,
    )


def _version_performance(
    version: RemoteVersion, experiments: Iterable[ExperimentRun]
) -> VersionPerformance:
    newest_first = sorted(
        experiments, key=lambda e: (_timestamp(e.created_at), e.name), reverse=True
    )
    return VersionPerformance(
        id=version.id,
        version=version.version_number or version.commit,
        commit=version.commit,
        created_at=version.created_at,
        created_by_tool=created_by_tool(version),
        experiments=tuple(newest_first),
        environments=version.environments,
        tags=tuple(version.tags),
    )


def created_by_tool(version: RemoteVersion) -> bool:
    """True for versions prompt-sync created: they carry its record of their own content's hash.

    A version the tool only adopted (the ``prompt-sync-base:`` tag) was created by someone else,
    so the tag does not count here; copied metadata doesn't either, as the hash wouldn't match.
    """
    template_type = version.type or "mustache"
    content: str | list[dict[str, Any]] = version.template
    if version.template_structure == "chat":
        try:
            content = json.loads(version.template)
        except json.JSONDecodeError:
            return False
    digest = comp.content_hash(content, template_type)
    return comp.is_recorded_base(version.metadata, None, digest, version.commit)


def _newest_first(version: RemoteVersion) -> tuple[int, float, str]:
    number = version_number(version.version_number)
    return (-number, -_timestamp(version.created_at), version.id)


def _timestamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0
