"""Between midnights, as one story on the emulator and a real Dagster instance, with the auto gate
on (``promotion: {auto: true}``): an optimization saved in Opik starts a pull within one sensor
tick; its experiment clearly beats production, and the next tick promotes it; a version better only
by noise is refused with its interval and the items it would need; the performance view shows the
intervals; rollback restores the previous pointer. And with ``pull_environment`` and git delivery,
the nightly pull brings the promoted version into the charter with the interval in the commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prompt_sync_pipeline.cli import main
from prompt_sync_tests.dagster_helpers import code_location, key, launch, settled, tick
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE
from prompt_sync_tests.forseti import run_cli as cli
from prompt_sync_tests.gitrepos import GIT_ENV, git, make_team
from prompt_sync_tests.lab import BRIEF, RAMBLING, Lab, evaluate_version, production

ITEMS = 40
BASELINE = [0.0, 1.0] * (ITEMS // 2)  # production's version: half right
CLEAR_WIN = [1.0 if i % 2 or i < 30 else 0.0 for i in range(ITEMS)]  # 15 more right: 0.875
# Better than CLEAR_WIN by 0.025 on average: 3 items more right, 2 fewer.
NOISE = [1.0 if i in (30, 32, 34) else 0.0 if i in (1, 3) else s for i, s in enumerate(CLEAR_WIN)]
AUTO = {"environment": "production", "metric": "accuracy", "auto": True}


def test_an_optimization_is_pulled_promoted_by_the_auto_gate_and_noise_is_refused(
    synced, opik_client, opik_target, capsys, monkeypatch, instance
):
    synced.configure(promotion=AUTO)
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(synced.config_path))
    lab = Lab(opik_client, opik_target.project_name, dataset_size=ITEMS)
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1-baseline", BASELINE)
    capsys.readouterr()
    assert cli(capsys, synced, "promote", COMPOSITE)[0] == 0  # nothing to beat yet
    assert production(opik_client, synced) == "v1"
    cursor = settled(instance)
    assert tick(instance, cursor).run_requests == []

    # An optimization saved in Opik starts one pull within one tick; the pull adopts it.
    v2 = lab.new_version(synced, COMPOSITE, BRIEF)
    found = tick(instance, cursor)
    (pull,) = found.run_requests
    assert pull.run_key == f"{COMPOSITE}@v2"
    assert launch(instance, pull).success
    assert synced.template(CHARTER_TASK) == BRIEF

    # Its experiment clearly beats production: the next tick promotes it, once.
    evaluate_version(lab, v2, "v2-brief", CLEAR_WIN)
    found = tick(instance, found.cursor)
    (promote,) = found.run_requests
    assert promote.run_key == f"{COMPOSITE}@v2:production"
    assert launch(instance, promote).success
    assert production(opik_client, synced) == "v2"
    quiet = tick(instance, found.cursor)
    assert quiet.run_requests == []

    # A version better only by noise: the tick refuses it (a skip reason), and so does the CLI,
    # with the interval and the items it would need.
    v3 = lab.new_version(synced, COMPOSITE, RAMBLING)
    evaluate_version(lab, v3, "v3-rambling", NOISE)
    capsys.readouterr()
    refused = tick(instance, quiet.cursor)
    assert [r.run_key for r in refused.run_requests] == [f"{COMPOSITE}@v3"]  # its pull only
    code, out, _ = cli(capsys, synced, "promote", COMPOSITE, "--version", "v3")
    assert code == 1
    assert "not enough evidence: the interval holds min-delta +0.0000" in out
    assert "mean difference: +0.0250 (standard error " in out
    assert "items needed: about " in out
    assert production(opik_client, synced) == "v2"

    # The performance view shows the intervals: current v3 vs previous v2 and production's v2.
    code, out, _ = cli(capsys, synced, "performance", "--prompt", COMPOSITE, "--json")
    assert code == 0
    (composite,) = json.loads(out)["prompts"]
    rows = {row["against"]: row for row in composite["paired"]}
    assert (rows["previous"]["other"], rows["production"]["other"]) == ("v2", "v2")
    paired = rows["production"]["comparisons"]["accuracy"]
    assert paired["n_paired"] == ITEMS and paired["mean_difference"] == pytest.approx(0.025)
    low, high = paired["interval"]
    assert low < 0 < high
    code, out, _ = cli(capsys, synced, "performance", "--prompt", COMPOSITE)
    assert (
        f"current v3 vs production's v2, paired: accuracy +0.0250 [{low:+.4f}, {high:+.4f}]" in out
    )

    # In Dagster: the difference and its bounds are numbers, plotted over time.
    defs = code_location()
    result = defs.resolve_assets_def(key("prompt_performance"))
    materialized = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[result.key]
    )
    (event,) = materialized.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata[f"delta_vs_production_accuracy/{COMPOSITE}"] == pytest.approx(0.025)
    assert metadata[f"delta_vs_production_accuracy_low/{COMPOSITE}"] == pytest.approx(low)
    assert metadata[f"delta_vs_production_accuracy_high/{COMPOSITE}"] == pytest.approx(high)

    # Rollback restores the previous pointer.
    code, out, _ = cli(capsys, synced, "rollback", COMPOSITE, "--environment", "production")
    assert code == 0, out
    assert production(opik_client, synced) == "v1"


def test_the_nightly_pull_commits_the_promoted_version_with_its_interval(
    tmp_path: Path, opik_target, opik_client, capsys, monkeypatch
):
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    team = make_team(tmp_path, opik_target.project_name, deliver="branch", update_before_run=False)
    deployment = team.deployment
    deployment.configure(pull_environment="production")
    lab = Lab(opik_client, opik_target.project_name, dataset_size=ITEMS)
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1-baseline", BASELINE)
    v2 = lab.new_version(deployment, COMPOSITE, BRIEF)
    evaluate_version(lab, v2, "v2-brief", CLEAR_WIN)
    capsys.readouterr()
    config = ["--config", str(deployment.config_path)]
    assert main([*config, "promote", COMPOSITE, "--version", "v1"]) == 0
    assert main([*config, "promote", COMPOSITE, "--version", "v2"]) == 0
    promoted = capsys.readouterr().out
    assert "gate: paired; the interval lies above min-delta" in promoted

    assert main([*config, "sync"]) == 0, capsys.readouterr()

    assert deployment.template(CHARTER_TASK) == BRIEF
    branch = next(b for b in team.remote_branches() if b.startswith("prompt-sync/"))
    message = git(team.remote, "log", "-1", "--format=%B", branch)
    assert f"- {CHARTER_TASK}: {COMPOSITE} v2 (" in message, message
    assert (
        f"{COMPOSITE} v2 promoted to production on paired evidence: accuracy +0.3750, 95% CI ["
        in message
    )
    assert "n=40" in message
