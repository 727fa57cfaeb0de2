"""The opt-in auto gate (``promotion: {auto: true}``): the sensor's tick looks at the newest
experiments (one listing), judges the versions they evaluated with the paired gate, and requests
the promote job once per version and environment; a refusal is a skip reason, not a failure."""

from __future__ import annotations

from typing import Any

import pytest

from prompt_sync_pipeline.promotion.auto import auto_promotions, join_cursor, split_cursor
from prompt_sync_tests.dagster_helpers import launch, settled, tick
from prompt_sync_tests.forseti import COMPOSITE
from prompt_sync_tests.forseti import run_cli as cli
from prompt_sync_tests.lab import BRIEF, RAMBLING, Lab, evaluate_version, production

ITEMS = 40
BASELINE = [0.0, 1.0] * (ITEMS // 2)
CLEAR_WIN = [1.0 if i % 2 or i < 30 else 0.0 for i in range(ITEMS)]
NOISE = [1.0 if i in (0, 2, 4) else 0.0 if i in (1, 3) else s for i, s in enumerate(BASELINE)]
PROMOTION = {"environment": "production", "metric": "accuracy", "auto": True}


@pytest.fixture
def auto(synced, opik_client, opik_target, capsys, monkeypatch) -> dict[str, Any]:
    """The example with the auto gate on, production on v1 (evaluated at 0.5 over 40 items)."""
    synced.configure(promotion=PROMOTION)
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(synced.config_path))
    lab = Lab(opik_client, opik_target.project_name, dataset_size=ITEMS)
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1-baseline", BASELINE)
    capsys.readouterr()
    assert cli(capsys, synced, "promote", COMPOSITE, "--version", "v1")[0] == 0
    return {"forseti": synced, "lab": lab}


def promote_requests(result: Any) -> list[Any]:
    return [r for r in result.run_requests if r.job_name == "forseti_prompt_promote_job"]


def test_a_clear_win_is_promoted_once_per_version_and_environment(auto, opik_client, instance):
    forseti, lab = auto["forseti"], auto["lab"]
    cursor = settled(instance)
    assert promote_requests(tick(instance, cursor)) == []

    v2 = lab.new_version(forseti, COMPOSITE, BRIEF)
    evaluate_version(lab, v2, "v2-brief", CLEAR_WIN)
    found = tick(instance, cursor)

    (request,) = promote_requests(found)
    assert request.run_key == f"{COMPOSITE}@v2:production"
    assert request.run_config == {
        "ops": {
            "forseti_promote": {
                "config": {"composite": COMPOSITE, "environment": "production", "version": "v2"}
            }
        }
    }
    assert request.tags["prompt_sync/promotion_decision"] == "would_promote"
    assert request.tags["prompt_sync/promotion_gate"] == "paired"
    assert request.tags["prompt_sync/promotion_n_paired"] == "40"
    assert float(request.tags["prompt_sync/promotion_ci_low"]) > 0

    # Before the run moves production, more evidence on v2 does not request it again.
    evaluate_version(lab, v2, "v2-brief-again", CLEAR_WIN)
    again = tick(instance, found.cursor)
    assert promote_requests(again) == []

    run = launch(instance, request)
    assert run.success
    assert production(opik_client, forseti) == "v2"
    (output,) = [e for e in run.all_node_events if e.is_successful_output]
    metadata = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert metadata["decision"] == "promoted" and metadata["gate"] == "paired"
    assert metadata["n_paired"] == 40 and metadata["ci_low"] > 0
    assert metadata["mean_difference"] == pytest.approx(0.375)

    # After it: nothing new, nothing requested; a tick after more experiments on v2 neither.
    assert promote_requests(tick(instance, again.cursor)) == []


def test_a_refusal_is_a_skip_reason_not_a_failure(auto, opik_client, instance):
    forseti, lab = auto["forseti"], auto["lab"]
    cursor = settled(instance)
    v2 = lab.new_version(forseti, COMPOSITE, RAMBLING)
    cursor = tick(instance, cursor).cursor  # the new version's pull
    evaluate_version(lab, v2, "v2-noise", NOISE)

    found = tick(instance, cursor)

    assert found.run_requests == []
    assert f"{COMPOSITE} v2 not promoted to production: not enough evidence" in found.skip_message
    assert "accuracy +0.0250, 95% CI [" in found.skip_message and "n=40" in found.skip_message
    assert production(opik_client, forseti) == "v1"
    # Judged once: the next tick has nothing new to look at.
    assert "not promoted" not in (tick(instance, found.cursor).skip_message or "")


def test_a_quiet_tick_costs_one_listing_more(auto, opik_target, instance):
    cursor = settled(instance)
    opik_target.clear_requests()

    result = tick(instance, cursor)

    assert result.run_requests == []
    paths = [(r.method, r.path) for r in opik_target.requests()]
    assert [p for p in paths if "experiments" in p[1]] == [("GET", "/api/v1/private/experiments")]
    assert len(paths) == 3  # the project, one page of its prompts, one page of experiments


def test_a_tick_judging_two_versions_reads_the_shared_evidence_once(auto, opik_target, instance):
    forseti, lab = auto["forseti"], auto["lab"]
    cursor = settled(instance)
    v2 = lab.new_version(forseti, COMPOSITE, BRIEF)
    v3 = lab.new_version(forseti, COMPOSITE, RAMBLING)
    cursor = tick(instance, cursor).cursor  # the new versions' pull
    evaluate_version(lab, v2, "v2-brief", CLEAR_WIN)
    evaluate_version(lab, v3, "v3-noise", NOISE)
    opik_target.clear_requests()

    result = tick(instance, cursor)

    assert [r.run_key for r in promote_requests(result)] == [f"{COMPOSITE}@v2:production"]
    paths = [r.path for r in opik_target.requests()]
    # The composite's versions (its history, which its performance view reuses), the
    # environments and each version's items are read once, though two versions were judged.
    assert sum(p.endswith("/versions") for p in paths) == 1
    assert paths.count("/api/v1/private/environments") == 1
    assert sum(p.endswith("/items/experiments/items") for p in paths) == 3  # v1, v2, v3


def test_without_auto_the_gate_makes_no_request_and_keeps_the_cursor(synced, opik_target):
    with synced.engine()[1] as opik:
        opik_target.clear_requests()
        off = auto_promotions(synced.config, opik, None, {})
    assert (off.cursor, off.promotions, opik_target.requests()) == (None, (), [])
    assert join_cursor('{"c": ["id", 1]}', None) == '{"c": ["id", 1]}'
    assert split_cursor('{"c": ["id", 1]}') == ('{"c": ["id", 1]}', None)
    both = join_cursor('{"c": ["id", 1]}', '{"experiments": {}, "requested": []}')
    assert split_cursor(both) == ('{"c": ["id", 1]}', '{"experiments": {}, "requested": []}')
