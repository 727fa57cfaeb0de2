"""The code location loads, shows the lineage the team relies on, refuses a configuration that
can't work, and stays light to import."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from prompt_sync_tests.dagster_helpers import ASSETS, SCHEDULE, SYNC_JOB, code_location, key

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "forseti"


def test_definitions_load():
    defs = code_location()
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def(SYNC_JOB)


def test_four_assets_in_one_lineage_chain_and_the_performance_view_beside_it():
    defs = code_location()
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    assert sorted(k.to_user_string() for k in specs) == sorted(
        f"forseti/{name}" for name in (*ASSETS, "prompt_performance")
    )
    # The performance view is in the instance's group, but stays out of its midnight job.
    assert specs[key("prompt_performance")].group_name == "forseti"
    job = defs.resolve_job_def(SYNC_JOB)
    assert key("prompt_performance") not in job.asset_layer.asset_graph.get_all_asset_keys()
    for upstream, downstream in itertools.pairwise(ASSETS):
        assert [dep.asset_key for dep in specs[key(downstream)].deps] == [key(upstream)]
    assert not specs[key(ASSETS[0])].deps
    for name in ASSETS:
        spec = specs[key(name)]
        assert spec.group_name == "forseti"
        assert spec.owners == ["team:data"]
        assert spec.code_version
        assert spec.kinds & {"opik", "json"}
        assert len(spec.description or "") > 100  # the UI description says what it means
        assert not (spec.description or "").startswith(" ")


def test_checks_guard_the_pushes():
    defs = code_location()
    graph = defs.resolve_asset_graph()
    checks = {check.name: check for check in graph.asset_check_keys}
    assert sorted(checks) == ["composites_match_charter", "persona_drift", "production_not_behind"]
    assert checks["persona_drift"].asset_key == key("local_individual_prompts")
    assert checks["composites_match_charter"].asset_key == key("pushed_composites")
    assert graph.get_check_spec(checks["persona_drift"]).blocking
    assert checks["production_not_behind"].asset_key == key("pushed_composites")
    # The job runs the instance's assets with the checks inside their steps;
    # production_not_behind (experiments, not the sync) runs in its own job.
    job = defs.resolve_job_def(SYNC_JOB)
    assert {k.name for k in job.asset_layer.asset_graph.asset_check_keys} == {
        "composites_match_charter",
        "persona_drift",
    }
    assert [node.name for node in job.graph.nodes if "production" in node.name] == []
    check_job = defs.resolve_job_def("forseti_production_check_job")
    assert [node.name for node in check_job.graph.nodes] == [
        "forseti__pushed_composites_production_not_behind"
    ]


def test_daily_schedule():
    schedule = code_location().resolve_schedule_def(SCHEDULE)
    assert schedule.cron_schedule == "0 0 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == SYNC_JOB


def test_every_job_and_run_names_the_instance():
    defs = code_location()
    jobs = {job.name: job for job in defs.resolve_all_job_defs() if job.name != "__ASSET_JOB"}
    assert sorted(jobs) == [
        "forseti_production_check_job",
        "forseti_prompt_promote_job",
        "forseti_prompt_resolve_job",
        "forseti_prompt_rollback_job",
        "forseti_prompt_sync_job",
        "forseti_prompt_sync_pull_job",
    ]
    for job in jobs.values():
        assert job.tags["prompt_sync/instance"] == "forseti", job.name
        assert job.tags["prompt_sync/config"] == str((EXAMPLE / "prompt_sync.yaml").resolve())


def _load_in_subprocess(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PROMPT_SYNC_CONFIG"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


LOAD = "from prompt_sync_pipeline.definitions import defs; d = defs(); "


def test_loading_the_code_location_does_not_import_the_opik_sdk():
    loaded = _load_in_subprocess(
        LOAD + "import sys; print(sorted(m for m in sys.modules if m.split('.')[0] == 'opik'))"
    )
    assert loaded.stdout.strip() == "[]", loaded.stderr


def _config(tmp_path: Path, **changes: object) -> Path:
    config = yaml.safe_load((EXAMPLE / "prompt_sync.yaml").read_text())
    config["charter"] = str(EXAMPLE / "forseti_charter.json")
    config.update(changes)
    path = tmp_path / "prompt_sync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_schedule_time_zone_comes_from_the_configuration(tmp_path: Path):
    path = _config(tmp_path, schedule_timezone="Europe/Paris")
    loaded = _load_in_subprocess(
        LOAD + f"print(d.resolve_schedule_def({SCHEDULE!r}).execution_timezone)",
        PROMPT_SYNC_CONFIG=str(path),
    )
    assert loaded.stdout.strip() == "Europe/Paris", loaded.stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"schedule_timezone": "Mars/Olympus"},
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            {"composites": {"c": {"system_prompt": "forseti.persona", "user_prompt": "nope"}}},
            "composites.c.user_prompt: 'nope' is not a prompt of the charter forseti_charter.json",
        ),
    ],
)
def test_loading_refuses_a_configuration_that_cannot_work(tmp_path: Path, changes, message):
    path = _config(tmp_path, **changes)
    loaded = _load_in_subprocess(LOAD, PROMPT_SYNC_CONFIG=str(path))
    assert loaded.returncode != 0
    assert f"prompt-sync instance 'forseti': {path}: " in loaded.stderr
    assert message in loaded.stderr


def test_loading_refuses_a_configuration_that_is_missing(tmp_path: Path):
    missing = tmp_path / "missing.yaml"
    loaded = _load_in_subprocess(LOAD, PROMPT_SYNC_CONFIG=str(missing))
    assert f"prompt-sync instance 'forseti': {missing}: configuration file not found" in (
        loaded.stderr
    )


def test_the_component_is_exported_lazily():
    loaded = _load_in_subprocess(
        "import sys, prompt_sync_pipeline as p; print(json.dumps(['dagster' in sys.modules, "
        "'PromptSyncComponent' in dir(p), p.PromptSyncComponent.__name__]))".replace(
            "import sys", "import json, sys"
        )
    )
    assert json.loads(loaded.stdout) == [False, True, "PromptSyncComponent"], loaded.stderr
