"""The performance view against a real Opik API (the emulator), with experiments recorded through
the SDK the way a data scientist records them: a dataset, one trace per item, an experiment linked
to the prompt version, experiment items, and feedback scores on the traces."""

from __future__ import annotations

import json
from statistics import fmean
from typing import Any

import dagster as dg
import pytest

from prompt_sync_pipeline.cli import main
from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.performance import collect_performance
from prompt_sync_pipeline.performance.render import to_markdown
from prompt_sync_tests.dagster_helpers import SYNC_JOB, code_location, key
from prompt_sync_tests.forseti import COMPOSITE, COMPOSITES, PERSONA, PROMPTS, Forseti
from prompt_sync_tests.lab import Lab


def performance(forseti: Forseti, **options: Any):
    config = forseti.config
    with OpikProject.connect(config.opik) as project:
        return collect_performance(config, project, **options)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def version_means(lab: Lab, *experiments: str) -> dict[str, float]:
    metrics = {m for e in experiments for m in lab.expected[e]}
    return {
        m: fmean(lab.expected[e][m] for e in experiments if m in lab.expected[e]) for m in metrics
    }


# Three versions, two metrics ------------------------------------------------------------------


@pytest.fixture
def three_versions(synced, lab) -> Forseti:
    """The composite at v1 (the sync's), v2 and v3 (optimized in Opik), with four experiments."""
    v1 = lab.version(COMPOSITE, 1)
    v2 = lab.new_version(synced, COMPOSITE, "Judge {{post}} against {{charter}}, briefly.")
    v3 = lab.new_version(synced, COMPOSITE, "Judge {{post}} against {{charter}}, citing rules.")
    lab.experiment(
        "baseline",
        [v1],
        [
            {"accuracy": 1.0, "relevance": 0.5},
            {"accuracy": 0.0, "relevance": 0.5},
            {"accuracy": 1.0, "relevance": 0.8},
        ],
    )
    lab.experiment(
        "brief-1",
        [v2],
        [
            {"accuracy": 1.0, "relevance": 0.9},
            {"accuracy": 1.0, "relevance": 0.7},
            {"accuracy": 0.0, "relevance": 0.8},
        ],
    )
    lab.experiment(
        "brief-2",
        [v2],
        [
            {"accuracy": 1.0, "relevance": 0.6},
            {"accuracy": 1.0, "relevance": 0.9},
            {"accuracy": 1.0, "relevance": 1.0},
        ],
    )
    # One trace was never judged for relevance: the mean is over the two that were.
    lab.experiment(
        "citing",
        [v3],
        [
            {"accuracy": 1.0, "relevance": 0.4},
            {"accuracy": 0.0},
            {"accuracy": 1.0, "relevance": 0.5},
        ],
    )
    lab.flush()
    return synced


def test_each_version_reports_its_experiments_with_the_backends_means(three_versions, lab):
    report = performance(three_versions)

    prompt = next(p for p in report.prompts if p.name == COMPOSITE)
    assert prompt.kind == "composite" and prompt.status == "ok"
    assert [v.version for v in prompt.versions] == ["v3", "v2", "v1"]
    assert [v.created_by_tool for v in prompt.versions] == [False, False, True]
    experiments = {v.version: {e.name: e for e in v.experiments} for v in prompt.versions}
    assert {v: set(e) for v, e in experiments.items()} == {
        "v3": {"citing"},
        "v2": {"brief-1", "brief-2"},
        "v1": {"baseline"},
    }
    for by_name in experiments.values():
        for name, run in by_name.items():
            assert run.scores == pytest.approx(lab.expected[name]), name
            assert run.trace_count == 3
            assert run.dataset == lab.dataset_name
    means = {v.version: v.scores for v in prompt.versions}
    assert means["v2"] == pytest.approx(version_means(lab, "brief-1", "brief-2"))
    assert means["v3"] == pytest.approx(version_means(lab, "citing"))


def test_the_best_version_per_metric_and_the_current_against_the_previous(three_versions, lab):
    report = performance(three_versions)

    prompt = next(p for p in report.prompts if p.name == COMPOSITE)
    expected = {
        "v3": version_means(lab, "citing"),
        "v2": version_means(lab, "brief-1", "brief-2"),
        "v1": version_means(lab, "baseline"),
    }
    assert prompt.best == {
        metric: max(expected, key=lambda v: expected[v][metric])
        for metric in ("accuracy", "relevance")
    }
    assert prompt.best == {"accuracy": "v2", "relevance": "v2"}
    assert prompt.current_vs_previous == pytest.approx(
        {m: expected["v3"][m] - expected["v2"][m] for m in ("accuracy", "relevance")}
    )


def test_prompts_without_experiments_are_listed_as_such(three_versions, capsys, forseti):
    code, out, _ = run_cli(capsys, "--config", str(forseti.config_path), "performance")

    assert code == 0
    assert f"{COMPOSITE} (composite): 4 experiments" in out
    assert f"{PERSONA} (individual): no experiments (1 version)" in out
    for other in set(COMPOSITES) - {COMPOSITE}:
        assert f"{other} (composite): no experiments (1 version)" in out
    assert "current v3 vs previous v2:" in out
    assert " *" in out  # the best scores are marked


def test_one_prompt_and_one_metric(three_versions, capsys, forseti, lab):
    code, out, _ = run_cli(
        capsys,
        "--config",
        str(forseti.config_path),
        "performance",
        "--prompt",
        COMPOSITE,
        "--metric",
        "relevance",
        "--json",
    )

    assert code == 0
    document = json.loads(out)
    assert document["metric"] == "relevance"
    (prompt,) = document["prompts"]
    assert prompt["name"] == COMPOSITE
    assert {m for v in prompt["versions"] for m in v["scores"]} == {"relevance"}
    assert prompt["best"] == {"relevance": "v2"}


def test_an_unknown_prompt_exits_2(forseti, capsys):
    code, _, err = run_cli(
        capsys, "--config", str(forseti.config_path), "performance", "--prompt", "nope"
    )

    assert code == 2
    assert "'nope' is not a prompt of the configuration" in err


def test_an_opik_error_exits_1_with_the_servers_message(synced, opik_target, capsys):
    opik_target.inject(
        r"/v1/private/experiments$",
        "GET",
        status=400,
        times=None,
        body={"errors": ["filters: bad filter"]},
    )

    code, out, err = run_cli(capsys, "--config", str(synced.config_path), "performance", "--json")

    assert code == 1
    assert "Opik answered 400: filters: bad filter" in err
    statuses = {p["name"]: p["status"] for p in json.loads(out)["prompts"]}
    assert set(statuses.values()) == {"failed"}


# Paging ---------------------------------------------------------------------------------------


def test_experiments_past_the_first_page_are_all_counted(synced, lab, opik_target):
    from opik import id_helpers
    from opik.rest_api.types import PromptVersionLinkWrite

    v1 = lab.version(COMPOSITE, 1)
    rest = opik_target.rest_client()
    # 130 experiments (no items: the listing, not scoring, is under test), straight over REST.
    for i in range(130):
        rest.experiments.create_experiment(
            id=id_helpers.generate_id(),
            name=f"sweep-{i:03d}",
            dataset_name=lab.dataset_name,
            project_name=lab.project,
            prompt_versions=[PromptVersionLinkWrite(id=v1.version_id)],
        )
    lab.experiment("scored", [v1], [{"accuracy": 0.25}, {"accuracy": 0.5}, {"accuracy": 0.75}])
    lab.flush()

    report = performance(synced, prompt=COMPOSITE)

    (prompt,) = report.prompts
    (version,) = prompt.versions
    assert len(version.experiments) == 131
    assert len({e.id for e in version.experiments}) == 131
    assert version.scores == pytest.approx({"accuracy": 0.5})
    if opik_target.is_emulator:
        listings = [
            r.query
            for r in opik_target.requests()
            if r.method == "GET" and r.path.endswith("/v1/private/experiments")
        ]
        assert len(listings) == 2 and "page=2" in listings[1]


# The JSON shape -------------------------------------------------------------------------------

SCORES = {"type": "object", "additionalProperties": {"type": "number"}}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_NUMBER = {"type": ["number", "null"]}
MOVERS = {
    "type": "array",
    "maxItems": 5,
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["dataset", "dataset_item_id", "candidate", "current", "difference"],
        "properties": {
            "dataset": {"type": "string"},
            "dataset_item_id": {"type": "string"},
            "candidate": {"type": "number"},
            "current": {"type": "number"},
            "difference": {"type": "number"},
        },
    },
}
PAIRED_COMPARISON = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "metric", "level", "n_paired", "candidate_mean", "current_mean", "mean_difference",
        "standard_deviation", "standard_error", "interval", "gains", "losses", "unpaired",
        "datasets",
    ],
    "properties": {
        "metric": {"type": "string"},
        "n_paired": {"type": "integer"},
        "level": {"type": "number"},
        "candidate_mean": NULLABLE_NUMBER,
        "current_mean": NULLABLE_NUMBER,
        "standard_deviation": NULLABLE_NUMBER,
        "unpaired": {"type": "object", "additionalProperties": {"type": "integer"}},
        "datasets": {"type": "array", "items": {"type": "string"}},
        "mean_difference": NULLABLE_NUMBER,
        "standard_error": NULLABLE_NUMBER,
        "interval": {
            "oneOf": [{"type": "null"}, {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}]
        },
        "gains": MOVERS,
        "losses": MOVERS,
    },
}  # fmt: skip
PAIRED = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["against", "candidate", "other", "comparisons"],
        "properties": {
            "against": {"type": "string"},
            "candidate": {"type": "string"},
            "other": NULLABLE_STRING,
            "comparisons": {"type": "object", "additionalProperties": PAIRED_COMPARISON},
        },
    },
}
JSON_SCHEMA = {
    "type": "object",
    "required": ["project", "metric", "environment", "level", "prompts"],
    "additionalProperties": False,
    "properties": {
        "project": {"type": "string"},
        "metric": NULLABLE_STRING,
        "environment": NULLABLE_STRING,
        "level": NULLABLE_NUMBER,
        "prompts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "name",
                    "kind",
                    "status",
                    "error",
                    "current_version",
                    "previous_version",
                    "versions",
                    "best",
                    "current_vs_previous",
                    "paired",
                    "unlisted_experiments",
                ],
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"enum": ["composite", "individual"]},
                    "status": {"enum": ["ok", "no_experiments", "not_in_opik", "failed"]},
                    "error": NULLABLE_STRING,
                    "current_version": NULLABLE_STRING,
                    "previous_version": NULLABLE_STRING,
                    "best": {"type": "object", "additionalProperties": {"type": "string"}},
                    "current_vs_previous": SCORES,
                    "paired": PAIRED,
                    "unlisted_experiments": {"type": "integer"},
                    "versions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": [
                                "version",
                                "id",
                                "commit",
                                "created_at",
                                "created_by_tool",
                                "environments",
                                "experiments",
                                "scores",
                            ],
                            "properties": {
                                "version": {"type": "string", "pattern": r"^v\d+$"},
                                "id": {"type": "string"},
                                "commit": {"type": "string"},
                                "created_at": NULLABLE_STRING,
                                "created_by_tool": {"type": "boolean"},
                                "environments": {"type": "array", "items": {"type": "string"}},
                                "scores": SCORES,
                                "experiments": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": [
                                            "name",
                                            "id",
                                            "dataset",
                                            "trace_count",
                                            "created_at",
                                            "scores",
                                        ],
                                        "properties": {
                                            "name": {"type": "string"},
                                            "id": {"type": "string"},
                                            "dataset": NULLABLE_STRING,
                                            "trace_count": {"type": ["integer", "null"]},
                                            "created_at": NULLABLE_STRING,
                                            "scores": SCORES,
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_json_output_has_the_documented_shape(three_versions, forseti, capsys, opik_target):
    jsonschema = pytest.importorskip("jsonschema")

    code, out, _ = run_cli(capsys, "--config", str(forseti.config_path), "performance", "--json")

    assert code == 0
    document = json.loads(out)
    jsonschema.validate(document, JSON_SCHEMA)
    assert document["project"] == opik_target.project_name
    assert [(p["name"], p["kind"]) for p in document["prompts"]] == [
        *((c, "composite") for c in COMPOSITES),
        *((p, "individual") for p in PROMPTS),
    ]
    composite = document["prompts"][0]
    assert composite["current_version"] == "v3" and composite["previous_version"] == "v2"
    assert [v["version"] for v in composite["versions"]] == ["v3", "v2", "v1"]


# The forseti example, two versions of a composite: the CLI and the Dagster asset -----------------


@pytest.fixture
def two_versions(synced, lab) -> Forseti:
    v1 = lab.version(COMPOSITE, 1)
    v2 = lab.new_version(synced, COMPOSITE, "Check {{post}} against {{charter}} step by step.")
    lab.experiment(
        "sync-version",
        [v1],
        [{"accuracy": 0.5, "tone": 1.0}, {"accuracy": 0.0, "tone": 0.5}, {"accuracy": 1.0}],
    )
    lab.experiment(
        "optimized",
        [v2],
        [{"accuracy": 1.0, "tone": 0.5}, {"accuracy": 1.0, "tone": 0.75}, {"accuracy": 0.5}],
    )
    lab.flush()
    return synced


def test_the_cli_reports_both_versions_with_their_means(two_versions, lab, capsys):
    code, out, _ = run_cli(
        capsys, "--config", str(two_versions.config_path), "performance", "--json"
    )

    assert code == 0
    prompt = next(p for p in json.loads(out)["prompts"] if p["name"] == COMPOSITE)
    versions = {v["version"]: v for v in prompt["versions"]}
    assert set(versions) == {"v1", "v2"}
    assert versions["v1"]["created_by_tool"] is True
    assert versions["v2"]["created_by_tool"] is False
    for label, name in (("v1", "sync-version"), ("v2", "optimized")):
        (experiment,) = versions[label]["experiments"]
        assert experiment["name"] == name
        assert experiment["scores"] == pytest.approx(lab.expected[name])
        assert versions[label]["scores"] == pytest.approx(lab.expected[name])
    assert prompt["best"] == {"accuracy": "v2", "tone": "v1"}
    assert prompt["current_vs_previous"] == pytest.approx(
        {
            m: lab.expected["optimized"][m] - lab.expected["sync-version"][m]
            for m in ("accuracy", "tone")
        }
    )


def test_the_seed_spelling_routes_to_the_same_view(two_versions, capsys):
    code = main(["--performance", "--json", "--config", str(two_versions.config_path)])

    assert code == 0
    prompt = json.loads(capsys.readouterr().out)["prompts"][0]
    assert prompt["name"] == COMPOSITE and prompt["status"] == "ok"


# The asset as the code location defines it: Opik from the OPIK_* variables the fixtures set, the
# configuration from PROMPT_SYNC_CONFIG (the forseti instance).
PERFORMANCE = key("prompt_performance")


def materialize_performance(instance: dg.DagsterInstance, **kwargs: Any) -> Any:
    # Resolved from the code location, the asset comes with its resources bound.
    return dg.materialize(
        [code_location().resolve_assets_def(PERFORMANCE)], instance=instance, **kwargs
    )


def test_the_dagster_asset_shows_the_same_table(two_versions, lab, monkeypatch):
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(two_versions.config_path))

    with dg.instance_for_test() as instance:
        result = materialize_performance(instance)

        assert result.success
        (materialization,) = result.asset_materializations_for_node("forseti__prompt_performance")
        metadata = materialization.metadata
        assert metadata["performance"].value == to_markdown(
            performance(two_versions, paired=True, environment="production")
        )
        assert metadata[f"best_accuracy/{COMPOSITE}"].value == pytest.approx(
            lab.expected["optimized"]["accuracy"]
        )
        assert metadata[f"best_tone/{COMPOSITE}"].value == pytest.approx(
            lab.expected["sync-version"]["tone"]
        )
        assert metadata["experiments"].value == 2
        assert metadata["prompts_without_experiments"].value == len(COMPOSITES) + len(PROMPTS) - 1
        assert not any(key.endswith(f"/{PERSONA}") for key in metadata)  # composites only
        assert instance.get_latest_materialization_event(PERFORMANCE) is not None


def test_the_asset_fails_rather_than_record_a_partial_table(synced, opik_target, monkeypatch):
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(synced.config_path))
    opik_target.inject(r"/v1/private/experiments$", "GET", status=400, times=None)

    with dg.instance_for_test() as instance:
        result = materialize_performance(instance, raise_on_error=False)

        assert not result.success
        assert result.asset_materializations_for_node("forseti__prompt_performance") == []
        (failure,) = [e for e in result.all_events if e.is_step_failure]
        assert "Opik reads failed for 7 prompt(s)" in str(failure.step_failure_data.error)


def test_the_asset_stays_out_of_the_midnight_job():
    defs = code_location()
    dg.Definitions.validate_loadable(defs)

    job = defs.resolve_job_def(SYNC_JOB)

    assert PERFORMANCE not in job.asset_layer.executable_asset_keys
    assert "prompt_sync" in defs.resolve_assets_def(PERFORMANCE).required_resource_keys


def test_the_asset_is_on_demand_in_the_instances_group():
    spec = next(iter(code_location().resolve_assets_def(PERFORMANCE).specs))

    assert spec.group_name == "forseti"
    assert spec.automation_condition is None
    assert spec.kinds == {"opik"}
    assert spec.code_version == "2"
    assert spec.owners == ["team:data"]
    assert "won the team's Opik experiments" in (spec.description or "")
