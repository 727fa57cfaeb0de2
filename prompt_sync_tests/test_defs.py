"""The code location loads, shows the lineage the team relies on, and stays light to import."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from prompt_sync_pipeline.definitions import defs
from prompt_sync_tests.dagster_helpers import ASSETS

REPO = Path(__file__).resolve().parents[1]


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("prompt_sync_job")


def test_four_assets_in_one_lineage_chain():
    all_specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    specs = {name: spec for name, spec in all_specs.items() if spec.group_name == "prompt_sync"}
    assert sorted(specs) == sorted(ASSETS)
    # The performance view stays out of the sync's lineage and its midnight job.
    assert all_specs["prompt_performance"].group_name == "prompt_performance"
    job = defs.resolve_job_def("prompt_sync_job")
    assert "prompt_performance" not in {
        key.to_user_string() for key in job.asset_layer.asset_graph.get_all_asset_keys()
    }
    for upstream, downstream in itertools.pairwise(ASSETS):
        assert [dep.asset_key.to_user_string() for dep in specs[downstream].deps] == [upstream]
    assert not specs[ASSETS[0]].deps
    for spec in specs.values():
        assert spec.group_name == "prompt_sync"
        assert spec.owners == ["team:data"]
        assert spec.code_version
        assert spec.kinds & {"opik", "json"}
        assert len(spec.description or "") > 100  # the UI description says what it means


def test_checks_guard_the_pushes():
    graph = defs.resolve_asset_graph()
    checks = {key.name: key for key in graph.asset_check_keys}
    assert sorted(checks) == ["composites_match_charter", "persona_drift", "production_not_behind"]
    assert checks["persona_drift"].asset_key.to_user_string() == "local_individual_prompts"
    assert checks["composites_match_charter"].asset_key.to_user_string() == "pushed_composites"
    persona_drift = graph.get_check_spec(checks["persona_drift"])
    assert persona_drift.blocking
    assert checks["production_not_behind"].asset_key.to_user_string() == "pushed_composites"
    # The job runs the whole group with the checks inside its steps; production_not_behind
    # (experiments, not the sync) runs in its own job.
    job = defs.resolve_job_def("prompt_sync_job")
    assert {key.name for key in job.asset_layer.asset_graph.asset_check_keys} == {
        "composites_match_charter",
        "persona_drift",
    }
    assert [node.name for node in job.graph.nodes if "production" in node.name] == []
    check_job = defs.resolve_job_def("production_check_job")
    assert [node.name for node in check_job.graph.nodes] == [
        "pushed_composites_production_not_behind"
    ]


def test_daily_schedule():
    schedule = defs.resolve_schedule_def("prompt_sync_daily")
    assert schedule.cron_schedule == "0 0 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "prompt_sync_job"


def _load_in_subprocess(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "PROMPT_SYNC_CONFIG"}
    environment.update(env)
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout.strip()


def test_loading_the_code_location_does_not_import_the_opik_sdk():
    out = _load_in_subprocess(
        "import sys, prompt_sync_pipeline.definitions; "
        "print(sorted(m for m in sys.modules if m == 'opik' or m.startswith('opik.')))"
    )
    assert out == "[]"


def test_schedule_time_zone_comes_from_the_configuration(tmp_path: Path):
    config = yaml.safe_load((REPO / "examples/forseti/prompt_sync.yaml").read_text())
    config["schedule_timezone"] = "Europe/Paris"
    config["charter"] = str(REPO / "examples/forseti/forseti_charter.json")
    path = tmp_path / "prompt_sync.yaml"
    path.write_text(yaml.safe_dump(config))
    code = (
        "from prompt_sync_pipeline.definitions import defs; "
        "print(defs.resolve_schedule_def('prompt_sync_daily').execution_timezone)"
    )
    assert _load_in_subprocess(code, PROMPT_SYNC_CONFIG=str(path)) == "Europe/Paris"
    # An unreadable configuration doesn't stop the code location from loading.
    missing = str(tmp_path / "missing.yaml")
    assert _load_in_subprocess(code, PROMPT_SYNC_CONFIG=missing) == "UTC"
