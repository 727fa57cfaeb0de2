"""The paired gate of ``promote``, end to end: experiments made by the SDK's own ``evaluate()``
with known per-item scores, read back item by item through ``Experiment.get_items()`` from the
emulator, and the interval checked against scipy.stats' paired t test on the same scores."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scipy import stats

from prompt_sync_tests.forseti import COMPOSITE
from prompt_sync_tests.forseti import run_cli as cli
from prompt_sync_tests.lab import BRIEF, RAMBLING, Lab, evaluate_version, production

ITEMS = 40
# Production's version gets half the items right; the optimizations differ from it item by item.
BASELINE = [0.0, 1.0] * (ITEMS // 2)
CLEAR_WIN = [1.0 if i % 2 or i < 30 else 0.0 for i in range(ITEMS)]  # 15 more right, none lost
NOISE = [1.0 if i in (0, 2, 4) else 0.0 if i in (1, 3) else s for i, s in enumerate(BASELINE)]
PROMOTE = ("promote", COMPOSITE, "--environment", "production")


@pytest.fixture
def big_lab(opik_client: Any, opik_target: Any) -> Lab:
    return Lab(opik_client, opik_target.project_name, dataset_size=ITEMS)


@pytest.fixture
def in_production(synced, big_lab, capsys) -> dict[str, Any]:
    """v1 (the sync's, evaluated at 0.5, in production) and v2, v3 (two optimizations)."""
    v1 = big_lab.version(COMPOSITE, 1)
    evaluate_version(big_lab, v1, "v1-baseline", BASELINE)
    capsys.readouterr()  # evaluate() prints where to look in Opik
    assert cli(capsys, synced, *PROMOTE, "--version", "v1")[0] == 0
    v2 = big_lab.new_version(synced, COMPOSITE, BRIEF)
    v3 = big_lab.new_version(synced, COMPOSITE, RAMBLING)
    return {"forseti": synced, "v2": v2, "v3": v3}


def reference_interval(candidate: list[float], current: list[float], level: float = 0.95):
    return stats.ttest_rel(candidate, current).confidence_interval(confidence_level=level)


def test_a_clear_win_promotes_with_its_interval(in_production, big_lab, opik_client, capsys):
    forseti = in_production["forseti"]
    evaluate_version(big_lab, in_production["v2"], "v2-brief", CLEAR_WIN)
    capsys.readouterr()  # evaluate() prints where to look in Opik

    code, out, err = cli(capsys, forseti, *PROMOTE, "--version", "v2")

    assert code == 0, out + err
    assert f"promoted {COMPOSITE} v2" in out and "(was v1)" in out
    assert "gate: paired; the interval lies above min-delta +0.0000" in out
    assert "metric: accuracy (the only metric both v2 and v1 were scored on" in out
    reference = reference_interval(CLEAR_WIN, BASELINE)
    assert f"95% interval [{reference.low:+.4f}, {reference.high:+.4f}]" in out
    assert "paired items: 40" in out and "candidate v2 0.8750, production's v1 0.5000" in out
    assert out.count("item ") == 5  # the five biggest gains; no losses
    assert "biggest losses: none" in out
    assert production(opik_client, forseti) == "v2"


def test_a_higher_mean_within_the_noise_is_refused_with_the_items_needed(
    in_production, big_lab, opik_client, capsys
):
    forseti = in_production["forseti"]
    evaluate_version(big_lab, in_production["v2"], "v2-noise", NOISE)
    capsys.readouterr()  # evaluate() prints where to look in Opik

    code, out, _ = cli(capsys, forseti, *PROMOTE, "--version", "v2", "--json")

    assert code == 1
    document = json.loads(out)
    assert document["outcome"] == "refused" and document["gate"] == "paired"
    paired = document["paired"]
    assert paired["verdict"] == "not_enough_evidence"
    assert paired["n_paired"] == ITEMS
    assert paired["mean_difference"] == pytest.approx(0.025)
    assert paired["candidate_mean"] == pytest.approx(0.525)
    assert paired["current_mean"] == pytest.approx(0.5)
    reference = reference_interval(NOISE, BASELINE)
    assert paired["interval"] == [pytest.approx(reference.low), pytest.approx(reference.high)]
    assert paired["standard_error"] == pytest.approx(
        stats.sem([a - b for a, b in zip(NOISE, BASELINE, strict=True)])
    )
    assert paired["items_needed"] > ITEMS
    assert {m["difference"] for m in paired["gains"]} == {1.0}
    assert len(paired["gains"]) == 3 and len(paired["losses"]) == 2
    assert all(m["dataset_item_id"] in big_lab.item_ids for m in paired["gains"] + paired["losses"])
    # The same refusal in words: the numbers, the items needed, and the ways out.
    code, out, _ = cli(capsys, forseti, *PROMOTE, "--version", "v2")
    assert code == 1
    assert "not enough evidence: the interval holds min-delta +0.0000" in out
    assert f"[{reference.low:+.4f}, {reference.high:+.4f}]" in out
    assert f"items needed: about {paired['items_needed']} paired items" in out
    assert "--version v2 --force` promotes it anyway" in out
    assert "--version v2 --gate mean` compares the means only" in out
    assert production(opik_client, forseti) == "v1"


def test_force_and_the_mean_gate_promote_what_the_paired_gate_refuses(
    in_production, big_lab, opik_client, capsys
):
    forseti = in_production["forseti"]
    evaluate_version(big_lab, in_production["v2"], "v2-noise", NOISE)
    capsys.readouterr()  # evaluate() prints where to look in Opik

    code, out, _ = cli(capsys, forseti, *PROMOTE, "--version", "v2", "--gate", "mean", "--dry-run")
    assert code == 0, out
    assert "dry run: would point production at" in out
    assert "gate: mean (each version's mean of its experiments' means" in out
    assert "candidate v2: accuracy 0.5250" in out and "production's v1: accuracy 0.5000" in out

    code, out, _ = cli(capsys, forseti, *PROMOTE, "--version", "v2", "--force")
    assert code == 0, out
    assert "to production with --force, despite the paired gate (was v1)" in out
    assert "gate: paired; not enough evidence" in out
    assert production(opik_client, forseti) == "v2"


def test_too_few_paired_items_are_refused(synced, lab, opik_client, capsys):
    # The lab's dataset has three items: a clear win on each, but three pairs prove little.
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1-baseline", [0.0, 0.0, 0.0])
    capsys.readouterr()  # evaluate() prints where to look in Opik
    cli(capsys, synced, *PROMOTE, "--version", "v1")
    evaluate_version(lab, lab.new_version(synced, COMPOSITE, BRIEF), "v2", [1.0, 1.0, 1.0])
    capsys.readouterr()  # evaluate() prints where to look in Opik

    code, out, _ = cli(capsys, synced, *PROMOTE, "--version", "v2")

    assert code == 1
    assert "too few paired items: 3, and the gate needs at least 30" in out
    assert "items needed: about 30 paired items" in out
    assert production(opik_client, synced) == "v1"
    # --min-items lowers the bar: every item moved by +1.0, so three pairs tell.
    assert cli(capsys, synced, *PROMOTE, "--version", "v2", "--min-items", "3")[0] == 0


def test_experiments_on_different_datasets_never_pair(in_production, big_lab, opik_client, capsys):
    forseti = in_production["forseti"]
    # The same posts, as another dataset: its items are other items.
    elsewhere = f"{big_lab.project}-copy"
    evaluate_version(big_lab, in_production["v2"], "v2-copy", CLEAR_WIN, dataset_name=elsewhere)
    capsys.readouterr()  # evaluate() prints where to look in Opik

    code, out, _ = cli(capsys, forseti, *PROMOTE, "--version", "v2", "--metric", "accuracy")

    assert code == 1
    assert "no pairs: no dataset item was scored on accuracy for both versions" in out
    assert "(experiments on different datasets never pair)" in out
    assert production(opik_client, forseti) == "v1"


def test_an_items_repeated_runs_are_averaged_before_pairing(
    in_production, big_lab, opik_client, capsys
):
    forseti = in_production["forseti"]
    evaluate_version(big_lab, in_production["v2"], "v2-run-1", CLEAR_WIN)
    evaluate_version(big_lab, in_production["v2"], "v2-run-2", [1.0] * ITEMS)
    capsys.readouterr()  # evaluate() prints where to look in Opik

    code, out, _ = cli(capsys, forseti, *PROMOTE, "--version", "v2", "--dry-run", "--json")

    assert code == 0, out
    paired = json.loads(out)["paired"]
    averaged = [(a + b) / 2 for a, b in zip(CLEAR_WIN, [1.0] * ITEMS, strict=True)]
    assert paired["n_paired"] == ITEMS  # 80 runs, 40 items
    assert paired["candidate_mean"] == pytest.approx(sum(averaged) / ITEMS)
    reference = reference_interval(averaged, BASELINE)
    assert paired["interval"] == [pytest.approx(reference.low), pytest.approx(reference.high)]
    assert production(opik_client, forseti) == "v1"  # a dry run
