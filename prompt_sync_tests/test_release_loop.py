"""Between midnights, as one story on the emulator and a real Dagster instance: an
optimization saved in Opik starts a pull within one sensor tick; its experiment beats the
production version; ``promote`` moves production; a worse version is refused; ``rollback``
restores the previous pointer."""

from __future__ import annotations

import dagster as dg

from prompt_sync_tests.dagster_helpers import launch, run_check, settled, tick
from prompt_sync_tests.forseti import CHARTER_TASK, COMPOSITE
from prompt_sync_tests.forseti import run_cli as cli
from prompt_sync_tests.lab import BRIEF, RAMBLING, Lab, evaluate_version, production


def test_an_optimization_is_pulled_promoted_on_its_scores_and_rolled_back(
    synced, opik_client, opik_target, capsys, monkeypatch
):
    lab = Lab(opik_client, opik_target.project_name)
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(synced.config_path))
    promote = ["promote", COMPOSITE, "--environment", "production"]
    # Production runs the sync's version, evaluated at 0.5.
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1-baseline", [0.5, 0.5, 0.5])
    assert cli(capsys, synced, *promote)[0] == 0
    assert production(opik_client, synced) == "v1"

    with dg.instance_for_test() as instance:
        cursor = settled(instance)
        assert tick(instance, cursor).run_requests == []

        # An optimization saved in Opik starts one pull within one tick; the pull adopts it.
        v2 = lab.new_version(synced, COMPOSITE, BRIEF)
        found = tick(instance, cursor)
        (request,) = found.run_requests
        assert request.run_key == f"{COMPOSITE}@v2"
        assert launch(instance, request).success
        assert synced.template(CHARTER_TASK) == BRIEF
        assert tick(instance, found.cursor).run_requests == []

        # Its experiment beats production's: promote (the charter's composite, now v2) moves it.
        v2_mean = evaluate_version(lab, v2, "v2-brief", [1.0, 0.5, 1.0])
        code, out, _ = cli(capsys, synced, *promote)
        assert code == 0, out
        assert f"promoted {COMPOSITE} v2" in out
        assert f"accuracy {v2_mean:.4f}" in out and "accuracy 0.5000" in out
        assert production(opik_client, synced) == "v2"
        assert run_check(instance).passed

        # A worse version is refused, with both scores; production stays.
        v3 = lab.new_version(synced, COMPOSITE, RAMBLING)
        evaluate_version(lab, v3, "v3-rambling", [0.0, 0.5, 0.5])
        code, out, _ = cli(capsys, synced, *promote, "--version", "v3")
        assert code == 1
        assert "accuracy 0.3333" in out and f"accuracy {v2_mean:.4f}" in out
        assert production(opik_client, synced) == "v2"

        # Rollback restores the previous pointer.
        code, out, _ = cli(capsys, synced, "rollback", COMPOSITE, "--environment", "production")
        assert code == 0, out
        assert production(opik_client, synced) == "v1"
