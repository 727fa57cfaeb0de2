"""The performance view's arithmetic, linking and rendering, without a server.

The engine runs on the real Opik project over an in-memory stand-in for the generated REST client that
answers with the SDK's own response types; the emulator tests (test_performance.py) cover the wire.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from opik.rest_api.types import (
    ExperimentPagePublic,
    ExperimentPublic,
    ExperimentScorePublic,
    FeedbackScoreAveragePublic,
    PromptVersionDetail,
    PromptVersionLinkPublic,
    PromptVersionPagePublic,
    PromptVersionPublic,
)

from prompt_sync_pipeline.opik import RemoteVersion
from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.opik.transport import Transport
from prompt_sync_pipeline.performance import (
    ExperimentRun,
    PromptPerformance,
    UnknownPrompt,
    VersionPerformance,
    collect_performance,
)
from prompt_sync_pipeline.performance.engine import created_by_tool, managed_prompts
from prompt_sync_pipeline.performance.models import (
    PerformanceReport,
    best_versions,
    current_vs_previous,
    mean_scores,
)
from prompt_sync_pipeline.performance.render import to_markdown, write_text
from prompt_sync_pipeline.sync import composites as comp
from prompt_sync_pipeline.sync.config import SyncConfig

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def run(name: str, minutes: int = 0, **scores: float) -> ExperimentRun:
    return ExperimentRun(
        id=f"id-{name}",
        name=name,
        dataset="eval",
        trace_count=3,
        created_at=T0 + timedelta(minutes=minutes),
        scores=scores,
    )


def version(label: str, *experiments: ExperimentRun) -> VersionPerformance:
    return VersionPerformance(
        id=f"vid-{label}",
        version=label,
        commit=f"c-{label}".ljust(8, "0"),
        created_at=T0,
        created_by_tool=True,
        experiments=experiments,
    )


# The arithmetic ------------------------------------------------------------------------------


def test_a_version_scores_the_mean_of_its_experiments_that_report_the_metric():
    scores = mean_scores(
        [run("a", accuracy=0.5, relevance=0.9), run("b", accuracy=1.0), run("c", relevance=0.3)]
    )

    assert scores == {"accuracy": 0.75, "relevance": 0.6}


def test_best_is_the_highest_mean_per_metric_and_a_tie_keeps_the_newer_version():
    versions = [  # newest first, as the engine orders them
        version("v3", run("x", accuracy=0.8, relevance=0.2)),
        version("v2", run("y", accuracy=0.8, relevance=0.9)),
        version("v1", run("z", accuracy=0.7, fluency=0.4)),
    ]

    assert best_versions(versions) == {"accuracy": "v3", "relevance": "v2", "fluency": "v1"}


def test_current_vs_previous_compares_the_two_newest_versions_on_shared_metrics():
    versions = [
        version("v3", run("x", accuracy=0.3, fluency=0.5)),
        version("v2", run("y", accuracy=0.1, relevance=0.9)),
        version("v1", run("z", accuracy=0.0, fluency=0.1)),
    ]

    # 0.3 - 0.1 is 0.19999999999999998 in floats; the report carries Opik's 9 decimals.
    assert current_vs_previous(versions) == {"accuracy": 0.2}
    assert current_vs_previous(versions[:1]) == {}


def test_current_vs_previous_is_empty_when_the_previous_version_was_never_evaluated():
    versions = [version("v2", run("x", accuracy=0.3)), version("v1")]

    assert current_vs_previous(versions) == {}


@pytest.mark.parametrize(
    ("prompt", "status"),
    [
        (PromptPerformance.failed("p", "composite", "Opik answered 500: boom"), "failed"),
        (PromptPerformance.missing("p", "individual"), "not_in_opik"),
        (PromptPerformance.build("p", "individual", [version("v1")]), "no_experiments"),
        (PromptPerformance.build("p", "composite", [version("v1", run("a", m=1.0))]), "ok"),
    ],
)
def test_status_of_a_prompt(prompt, status):
    assert prompt.status == status


def test_json_shape_of_a_prompt():
    prompt = PromptPerformance.build(
        "forseti-persona-charter",
        "composite",
        [version("v2", run("b", accuracy=0.9)), version("v1", run("a", accuracy=0.5))],
    )

    document = json.loads(json.dumps(prompt.to_json()))

    assert document["best"] == {"accuracy": "v2"}
    assert document["current_vs_previous"] == {"accuracy": 0.4}
    assert (document["current_version"], document["previous_version"]) == ("v2", "v1")
    newest = document["versions"][0]
    assert set(newest) == {
        "version",
        "id",
        "commit",
        "created_at",
        "created_by_tool",
        "environments",
        "experiments",
        "scores",
    }
    assert newest["experiments"] == [
        {
            "name": "b",
            "id": "id-b",
            "dataset": "eval",
            "trace_count": 3,
            "created_at": "2026-07-01T12:00:00+00:00",
            "scores": {"accuracy": 0.9},
        }
    ]


# Who created a version -----------------------------------------------------------------------


COMMIT = "abcdefgh"


def remote(template: str, structure: str, metadata: Any = None, tags: list[str] | None = None):
    return RemoteVersion(
        id="v",
        prompt_id="p",
        commit=COMMIT,
        version_number="v1",
        template=template,
        type="mustache",
        template_structure=structure,
        metadata=metadata,
        tags=tags or [],
    )


def test_versions_the_tool_created_carry_its_record_of_their_own_content():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U {{x}}"}]
    chat_hash = comp.content_hash(messages, "mustache")
    text_hash = comp.content_hash("Hello {{x}}", "mustache")

    assert created_by_tool(
        remote(json.dumps(messages), "chat", comp.provenance({"system": "a"}, chat_hash, COMMIT))
    )
    record = comp.provenance({"text": "a"}, text_hash, COMMIT)
    assert created_by_tool(remote("Hello {{x}}", "text", record))
    # Someone copied the tool's metadata onto an edited version: the hash gives it away.
    assert not created_by_tool(remote("Edited {{x}}", "text", record))
    # Opik's restore copies it onto a new version with the same content: the commit gives it away.
    restored = comp.provenance({"text": "a"}, text_hash, "0ldc0mm1")
    assert not created_by_tool(remote("Hello {{x}}", "text", restored))
    # A version the tool adopted as its base (tag) was still created by someone else.
    assert not created_by_tool(remote("Hello {{x}}", "text", tags=[comp.base_tag(text_hash)]))
    assert not created_by_tool(remote("not json", "chat"))


# The engine over a stand-in REST client --------------------------------------------------------

CONFIG = SyncConfig.model_validate(
    {
        "charter": "charter.json",
        "opik": {"project_name": "proj", "max_concurrency": 4, "retries": {"attempts": 1}},
        "composites": {
            "comp-a": {"system_prompt": "persona", "user_prompt": "task-a"},
            "comp-b": {"system_prompt": "persona", "user_prompt": "task-b"},
        },
    }
)


class FakePrompts:
    """Prompts by name: each a list of PromptVersionPublic, newest first."""

    def __init__(self, versions: dict[str, list[PromptVersionPublic]]) -> None:
        self.versions = versions
        self.pages: list[int] = []

    def retrieve_prompt_version(self, *, name: str, **_: Any) -> PromptVersionDetail:
        if not self.versions.get(name):
            raise _ApiError(404, {"code": 404, "message": "Prompt not found"})
        latest = self.versions[name][0]
        return PromptVersionDetail(**latest.model_dump(exclude={"version_type", "environment"}))

    def get_prompt_versions(
        self, prompt_id: str, *, page: int, size: int
    ) -> PromptVersionPagePublic:
        found = next(v for v in self.versions.values() if v and v[0].prompt_id == prompt_id)
        rows = found[(page - 1) * size : page * size]
        return PromptVersionPagePublic(page=page, size=len(rows), total=len(found), content=rows)


class FakeExperiments:
    def __init__(self, experiments: list[ExperimentPublic], fail: bool = False) -> None:
        self.experiments = experiments
        self.fail = fail
        self.pages: list[int] = []

    def find_experiments(self, *, prompt_id: str, page: int, size: int) -> ExperimentPagePublic:
        if self.fail:
            raise _ApiError(400, {"errors": ["prompt id must be a version 7 UUID"]})
        self.pages.append(page)
        matching = [
            e
            for e in self.experiments
            if any(link.prompt_id == prompt_id for link in e.prompt_versions or [])
            or (e.prompt_version and e.prompt_version.prompt_id == prompt_id)
        ]
        rows = matching[(page - 1) * size : page * size]
        return ExperimentPagePublic(page=page, size=len(rows), total=len(matching), content=rows)


class _ApiError(Exception):
    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(f"status {status_code}")
        self.status_code = status_code
        self.body = body


def opik_over(prompts: FakePrompts, experiments: FakeExperiments) -> OpikProject:
    """The real project over the fakes: the SDK's seam is the only thing stood in for."""
    wrapper = SimpleNamespace(get_base_url=lambda: "http://opik.test/api")
    rest = SimpleNamespace(prompts=prompts, experiments=experiments, _client_wrapper=wrapper)
    return OpikProject(Transport(CONFIG.opik, connect=lambda: rest))  # type: ignore[arg-type, return-value]


def pv(prompt_id: str, n: int, template: str = "T") -> PromptVersionPublic:
    return PromptVersionPublic(
        id=f"{prompt_id}-v{n}",
        prompt_id=prompt_id,
        commit=f"{prompt_id}{n}".ljust(8, "0")[:8],
        version_number=f"v{n}",
        template=template,
        type="mustache",
        template_structure="text",
        created_at=T0 + timedelta(hours=n),
    )


def experiment(
    name: str, links: list[PromptVersionPublic], minutes: int = 0, **scores: float
) -> ExperimentPublic:
    return ExperimentPublic(
        id=f"exp-{name}",
        name=name,
        dataset_name="eval",
        trace_count=2,
        created_at=T0 + timedelta(minutes=minutes),
        prompt_versions=[
            PromptVersionLinkPublic(
                prompt_version_id=v.id, commit=v.commit, prompt_id=v.prompt_id, prompt_name="x"
            )
            for v in links
        ],
        feedback_scores=[FeedbackScoreAveragePublic(name=k, value=v) for k, v in scores.items()],
    )


def test_managed_prompts_lists_composites_then_their_parts_in_order_of_first_use():
    assert managed_prompts(CONFIG) == [
        ("comp-a", "composite"),
        ("comp-b", "composite"),
        ("persona", "individual"),
        ("task-a", "individual"),
        ("task-b", "individual"),
    ]


def test_experiments_are_grouped_by_the_version_they_used_across_pages():
    a = [pv("pa", n) for n in (3, 2, 1)]
    persona = [pv("pp", 1)]
    experiments = [experiment(f"e{i}", [a[1]], i, accuracy=i / 250) for i in range(250)]
    experiments.append(experiment("both", [a[0], persona[0]], 999, accuracy=0.9, fluency=0.5))
    fake = FakeExperiments(experiments)

    report = collect_performance(
        CONFIG, opik_over(FakePrompts({"comp-a": a, "persona": persona}), fake)
    )

    by_name = {p.name: p for p in report.prompts}
    comp_a = by_name["comp-a"]
    assert [v.version for v in comp_a.versions] == ["v3", "v2", "v1"]
    assert [len(v.experiments) for v in comp_a.versions] == [1, 250, 0]
    assert comp_a.versions[1].scores == {"accuracy": pytest.approx(sum(range(250)) / 250 / 250)}
    assert comp_a.versions[1].experiments[0].name == "e249"  # newest first
    assert comp_a.best == {"accuracy": "v3", "fluency": "v3"}
    # The experiment that used two prompts counts for each of them.
    assert by_name["persona"].versions[0].scores == {"accuracy": 0.9, "fluency": 0.5}
    assert by_name["comp-b"].status == "not_in_opik"
    assert by_name["task-a"].status == "not_in_opik"
    assert sorted(set(fake.pages)) == [1, 2, 3]


def test_links_by_commit_legacy_links_and_deleted_versions():
    a = [pv("pa", 2), pv("pa", 1)]
    by_commit = experiment("by-commit", [], accuracy=0.4)
    by_commit = by_commit.model_copy(
        update={
            "prompt_versions": [
                PromptVersionLinkPublic(
                    prompt_version_id="unknown", commit=a[1].commit, prompt_id="pa"
                )
            ]
        }
    )
    legacy = experiment("legacy", [], accuracy=0.6).model_copy(
        update={
            "prompt_version": PromptVersionLinkPublic(prompt_version_id=a[0].id, prompt_id="pa")
        }
    )
    deleted = experiment("deleted", [pv("pa", 9)], accuracy=1.0)

    report = collect_performance(
        CONFIG,
        opik_over(FakePrompts({"comp-a": a}), FakeExperiments([by_commit, legacy, deleted])),
        prompt="comp-a",
    )

    (comp_a,) = report.prompts
    assert [[e.name for e in v.experiments] for v in comp_a.versions] == [["legacy"], ["by-commit"]]
    assert comp_a.unlisted_experiments == 1
    assert comp_a.current_vs_previous == {"accuracy": 0.2}


def test_experiment_scores_complete_feedback_scores_and_a_metric_filter_applies_everywhere():
    a = [pv("pa", 1)]
    with_both = experiment("both", [a[0]], accuracy=0.5).model_copy(
        update={
            "experiment_scores": [
                ExperimentScorePublic(name="f1", value=0.7),
                ExperimentScorePublic(name="accuracy", value=0.1),
            ]
        }
    )
    other = experiment("other", [a[0]], fluency=0.3)
    fakes = FakePrompts({"comp-a": a}), FakeExperiments([with_both, other])

    full = collect_performance(CONFIG, opik_over(*fakes), prompt="comp-a").prompts[0]
    only_f1 = collect_performance(CONFIG, opik_over(*fakes), prompt="comp-a", metric="f1")
    absent = collect_performance(CONFIG, opik_over(*fakes), prompt="comp-a", metric="recall")

    assert full.versions[0].scores == {"accuracy": 0.5, "f1": 0.7, "fluency": 0.3}
    assert [e.name for e in only_f1.prompts[0].versions[0].experiments] == ["both"]
    assert only_f1.prompts[0].metrics == ["f1"]
    assert absent.prompts[0].status == "no_experiments"


def test_an_opik_error_fails_that_prompt_with_the_servers_message():
    fakes = FakePrompts({"comp-a": [pv("pa", 1)]}), FakeExperiments([], fail=True)

    report = collect_performance(CONFIG, opik_over(*fakes))

    (failed,) = report.failed
    assert failed.name == "comp-a"
    assert failed.error == "Opik answered 400: prompt id must be a version 7 UUID"
    assert {p.status for p in report.prompts if p is not failed} == {"not_in_opik"}


def test_an_unknown_prompt_is_refused():
    with pytest.raises(UnknownPrompt, match="'nope' is not a prompt"):
        collect_performance(CONFIG, opik_over(FakePrompts({}), FakeExperiments([])), prompt="nope")


# Rendering -----------------------------------------------------------------------------------


def sample_report() -> PerformanceReport:
    composite = PromptPerformance.build(
        "comp|a",
        "composite",
        [
            version("v3", run("new*run", 5, accuracy=0.8), run("old", 1, accuracy=0.6)),
            version("v2", run("base", accuracy=0.9, fluency=0.2)),
            version("v1"),
        ],
    )
    return PerformanceReport(
        "proj",
        (
            composite,
            PromptPerformance.build("persona", "individual", [version("v1")]),
            PromptPerformance.missing("task", "individual"),
            PromptPerformance.failed("task-b", "individual", "Opik answered 503: busy"),
        ),
    )


def test_text_table_marks_the_best_and_lists_prompts_without_experiments(capsys):
    import sys

    write_text(sample_report(), sys.stdout)
    out = capsys.readouterr().out

    lines = out.splitlines()
    header = next(line for line in lines if line.strip().startswith("version"))
    assert header.split() == [
        "version",
        "commit",
        "created",
        "(UTC)",
        "by",
        "experiment",
        "dataset",
        "traces",
        "accuracy",
        "fluency",
    ]
    v3 = next(line for line in lines if line.strip().startswith("v3"))
    assert "mean of 2" in v3 and "0.7000" in v3 and "*" not in v3
    v2 = next(line for line in lines if line.strip().startswith("v2"))
    assert "0.9000 *" in v2 and "0.2000 *" in v2
    assert "current v3 vs previous v2: accuracy -0.2000" in out
    assert "(1 older version without experiments not shown)" in out
    assert "persona (individual): no experiments (1 version)" in out
    assert "task (individual): not in Opik" in out
    assert "task-b (individual): failed: Opik answered 503: busy" in out


def test_markdown_is_the_same_table_with_names_escaped():
    markdown = to_markdown(sample_report())

    assert "#### comp\\|a (composite): 3 experiments" in markdown
    assert (
        "| version | commit | created (UTC) | by | experiment | dataset | traces | accuracy | fluency |"
        in markdown
    )
    assert "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: |" in markdown
    assert "| **0.9000** | **0.2000** |" in markdown
    assert "new\\*run" in markdown
    assert "#### persona (individual): no experiments (1 version)" in markdown
