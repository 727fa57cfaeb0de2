"""What Opik holds, as plain values: prompt versions, the project's prompt listing, experiments
and their per-item scores.

Built from the SDK's REST models at the edge (``from_rest``); nothing here imports the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

TemplateStructure = Literal["text", "chat"]


@dataclass(frozen=True)
class RemoteVersion:
    """One prompt version as Opik holds it."""

    id: str
    prompt_id: str
    commit: str
    version_number: str | None
    template: str
    type: str | None
    template_structure: str
    metadata: Any
    tags: list[str] = field(default_factory=list)
    created_by: str | None = None
    created_at: datetime | None = None
    environments: tuple[str, ...] = ()  # the environments (e.g. production) it holds now

    @classmethod
    def from_rest(cls, version: Any, prompt_id: str | None = None) -> RemoteVersion:
        return cls(
            id=version.id,
            prompt_id=version.prompt_id or prompt_id or "",
            commit=version.commit,
            version_number=version.version_number,
            template=version.template,
            type=version.type,
            template_structure=version.template_structure or "text",
            metadata=version.metadata,
            tags=list(version.tags or []),
            created_by=version.created_by,
            created_at=version.created_at,
            environments=tuple(getattr(version, "environments", None) or ()),
        )


@dataclass(frozen=True)
class RemotePrompt:
    """One prompt as the project's prompt listing shows it (no version content)."""

    id: str
    name: str
    template_structure: str
    version_count: int
    last_updated_at: datetime | None = None

    @classmethod
    def from_rest(cls, prompt: Any) -> RemotePrompt:
        return cls(
            id=prompt.id,
            name=prompt.name,
            template_structure=prompt.template_structure or "text",
            version_count=prompt.version_count or 0,
            last_updated_at=prompt.last_updated_at,
        )


@dataclass(frozen=True)
class VersionLink:
    """A prompt version an experiment used (Opik links experiments to versions)."""

    prompt_id: str | None
    version_id: str | None
    commit: str | None


@dataclass(frozen=True)
class Experiment:
    """One Opik experiment: its dataset, the prompt versions it used and its mean scores."""

    id: str
    name: str
    dataset_name: str | None
    trace_count: int | None
    created_at: datetime | None
    links: tuple[VersionLink, ...]
    scores: dict[str, float]  # metric -> Opik's mean over the experiment's traces
    project_name: str | None = None  # where its dataset lives (Opik's datasets are per project)
    last_updated_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """What changes while the experiment is still running: its traces and its score means.
        The same fingerprint on two listings means nothing new was scored in between."""
        scores = ",".join(f"{name}={value!r}" for name, value in sorted(self.scores.items()))
        return f"{self.trace_count or 0}|{scores}"

    @classmethod
    def from_rest(cls, experiment: Any) -> Experiment:
        links = list(experiment.prompt_versions or [])
        if not links and experiment.prompt_version is not None:  # the legacy single link
            links = [experiment.prompt_version]
        # Experiment-level scores (computed once over the whole run) complete the per-trace
        # means; on a name clash the per-trace mean wins, computed the same way everywhere.
        scores = {s.name: s.value for s in experiment.experiment_scores or []}
        scores.update({s.name: s.value for s in experiment.feedback_scores or []})
        return cls(
            id=experiment.id or "",
            name=experiment.name or experiment.id or "",
            dataset_name=experiment.dataset_name,
            trace_count=experiment.trace_count,
            created_at=experiment.created_at,
            links=tuple(
                VersionLink(link.prompt_id, link.prompt_version_id, link.commit) for link in links
            ),
            scores=scores,
            project_name=getattr(experiment, "project_name", None),
            last_updated_at=experiment.last_updated_at,
        )


@dataclass(frozen=True)
class ExperimentItem:
    """One run of one dataset item in an experiment: which item, and the trace's scores.

    An experiment may run an item several times (``trial_count``): each run is its own item
    with the same ``dataset_item_id``.
    """

    id: str
    experiment_id: str
    dataset_item_id: str
    trace_id: str | None
    scores: dict[str, float]  # metric -> the trace's score (the mean if it was logged twice)

    @classmethod
    def from_sdk(cls, experiment_id: str, item: Any) -> ExperimentItem:
        """From the SDK's ``ExperimentItemContent`` (what ``Experiment.get_items()`` returns)."""
        values: dict[str, list[float]] = {}
        for score in item.feedback_scores or []:
            name, value = score.get("name"), score.get("value")
            if name and isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault(name, []).append(float(value))
        return cls(
            id=item.id,
            experiment_id=experiment_id,
            dataset_item_id=item.dataset_item_id,
            trace_id=item.trace_id,
            scores={name: sum(found) / len(found) for name, found in values.items()},
        )
