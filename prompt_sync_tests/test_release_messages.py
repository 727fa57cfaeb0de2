"""What ``promote`` and ``rollback`` tell a user, and their exit codes as the README defines them:
nothing to roll back is not an error; an unknown environment or metric is bad usage, with the
valid names; the metric compared is named, with the reason; and a rollback says what the next
sync will do with the version it leaves in Opik (``--dry-run`` says it without acting)."""

from __future__ import annotations

import json

from prompt_sync_tests.forseti import (
    CHARTER_TASK,
    COMPOSITE,
    COMPOSITES,
    PERSONA,
    chat_versions,
    latest_messages,
    optimize,
)
from prompt_sync_tests.forseti import run_cli as cli
from prompt_sync_tests.lab import BRIEF, evaluate_version, production

SUFFIX = "\nBe brief and kind."


def test_nothing_to_roll_back_exits_0_and_says_so(synced, opik_client, capsys):
    code, out, err = cli(capsys, synced, "rollback", COMPOSITE, "--environment", "production")
    assert (code, err) == (0, "")
    assert f"nothing to roll back: production points to no version of {COMPOSITE}" in out

    code, out, err = cli(capsys, synced, "rollback", COMPOSITE)
    assert (code, err) == (0, "")
    assert f"nothing to roll back: {COMPOSITE} has a single version in Opik (v1" in out
    assert len(chat_versions(opik_client, synced, COMPOSITE)) == 1

    code, out, _ = cli(capsys, synced, "rollback", COMPOSITE, "--json")
    assert code == 0
    assert json.loads(out)["outcome"] == "nothing_to_roll_back"


def test_an_unknown_environment_exits_2_with_the_registered_names(synced, capsys):
    for argv in (
        ("promote", COMPOSITE, "--environment", "prod"),
        ("rollback", COMPOSITE, "--environment", "prod"),
    ):
        code, out, err = cli(capsys, synced, *argv)

        assert code == 2 and out == ""
        assert "environment 'prod' is not registered in the Opik workspace (it has " in err
        assert "production" in err.split("(it has ")[1]


def test_an_unknown_metric_exits_2_with_the_scored_names(synced, lab, capsys):
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1", [0.5, 0.5, 0.5], metric="accuracy")
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1-tone", [0.5, 0.5, 0.5], metric="tone")
    cli(capsys, synced, "promote", COMPOSITE)
    evaluate_version(lab, lab.new_version(synced, COMPOSITE, BRIEF), "v2", [1.0, 1.0, 1.0])
    capsys.readouterr()

    code, out, err = cli(capsys, synced, "promote", COMPOSITE, "--version", "v2", "--metric", "acc")

    assert code == 2 and out == ""
    assert "metric 'acc' was not scored by any experiment of these versions" in err
    assert "the metrics scored: accuracy, tone" in err


def test_without_metric_the_chosen_one_is_named_with_the_reason_never_none(
    synced, lab, opik_client, capsys
):
    evaluate_version(lab, lab.version(COMPOSITE, 1), "v1", [0.5, 0.5, 0.5], metric="accuracy")
    assert cli(capsys, synced, "promote", COMPOSITE)[0] == 0
    v2 = lab.new_version(synced, COMPOSITE, BRIEF)
    evaluate_version(lab, v2, "v2-tone", [1.0, 1.0, 1.0], metric="tone")
    capsys.readouterr()

    # No metric both share: said in words, whichever gate runs.
    for gate in ("paired", "mean"):
        code, out, _ = cli(capsys, synced, "promote", COMPOSITE, "--version", "v2", "--gate", gate)

        assert code == 1
        assert "None" not in out
        assert (
            "metric: none (no metric: v2 and v1 were never scored on the same metric over a "
            "shared dataset)"
        ) in out

    # One shared metric: chosen, and the output says why.
    evaluate_version(lab, v2, "v2-accuracy", [1.0, 1.0, 1.0], metric="accuracy")
    capsys.readouterr()
    code, out, _ = cli(
        capsys, synced, "promote", COMPOSITE, "--version", "v2", "--gate", "mean", "--dry-run"
    )
    assert code == 0, out
    assert (
        "metric: accuracy (the only metric both v2 and v1 were scored on, over a shared dataset)"
    ) in out
    assert production(opik_client, synced) == "v1"


def test_a_rollback_says_the_next_sync_spreads_the_old_persona_and_dry_run_only_says_it(
    synced, opik_client, capsys
):
    # The persona was optimized in one composite; the sync adopted it and spread it to all.
    old_persona = synced.template(PERSONA)
    new_persona = old_persona + SUFFIX
    optimize(opik_client, synced, COMPOSITE, system=new_persona)
    report = synced.sync()
    assert not report.failed and synced.template(PERSONA) == new_persona
    versions_before = len(chat_versions(opik_client, synced, COMPOSITE))

    code, out, err = cli(capsys, synced, "rollback", COMPOSITE, "--to", "v1", "--dry-run")

    assert (code, err) == (0, "")
    assert f"dry run: would restore {COMPOSITE} v1" in out
    assert f"parts of {COMPOSITE} v1" in out and "that differ from the charter:" in out
    assert f"{PERSONA} (system message); the charter has:" in out
    assert "Be brief and kind." in out  # the charter's persona, indented
    assert (
        f"the next sync writes {PERSONA} from v1" in out
        and f"changes these composites: {', '.join([COMPOSITE, *sorted(COMPOSITES[1:])])}" in out
    )
    assert "over any earlier `--keep-opik` choice for it (the sync only warns)" in out
    assert f"--keep-charter {PERSONA}` after the rollback" in out
    assert len(chat_versions(opik_client, synced, COMPOSITE)) == versions_before  # nothing moved

    code, out, _ = cli(capsys, synced, "rollback", COMPOSITE, "--to", "v1", "--json")

    assert code == 0
    document = json.loads(out)
    assert document["outcome"] == "restored"
    upcoming = document["next_sync"]
    assert [(p["prompt"], p["adopted"]) for p in upcoming["parts"]] == [(PERSONA, True)]
    assert upcoming["changes"] == [COMPOSITE, *sorted(COMPOSITES[1:])]

    # And so the next sync does: the old persona comes back into the charter and spreads.
    report = synced.sync()
    assert not report.failed, report.to_json()
    assert synced.template(PERSONA) == old_persona
    assert report.warnings == [
        f"shared prompt '{PERSONA}' changed in Opik ({COMPOSITE}); the change spreads to "
        f"{', '.join(sorted(COMPOSITES[1:]))} in step 3"
    ]
    for composite in COMPOSITES:
        assert latest_messages(opik_client, synced, composite)[0]["content"] == old_persona


def test_a_rollback_of_an_environment_the_sync_does_not_read_says_so(
    synced, lab, opik_client, capsys
):
    lab.new_version(synced, COMPOSITE, BRIEF)
    cli(capsys, synced, "promote", COMPOSITE, "--version", "v1")
    cli(capsys, synced, "promote", COMPOSITE, "--version", "v2", "--force")

    code, out, _ = cli(capsys, synced, "rollback", COMPOSITE, "--environment", "production")

    assert code == 0, out
    assert f"rolled production back to {COMPOSITE} v1" in out
    assert "the next sync: it reads the latest, not production's: this move changes nothing" in out
    assert production(opik_client, synced) == "v1"


def test_a_rollback_foresees_a_part_only_the_charter_changed_as_kept_not_a_conflict(
    synced, opik_client, capsys
):
    # Opik gets a new task text; the charter meanwhile edits the persona, not synced yet.
    optimize(opik_client, synced, COMPOSITE, user=synced.template(CHARTER_TASK) + SUFFIX)
    persona = synced.template(PERSONA) + SUFFIX
    synced.edit(PERSONA, persona)

    # Restoring v1 brings back the persona as last agreed: the charter's edit is the newer.
    code, out, err = cli(capsys, synced, "rollback", COMPOSITE, "--to", "v1", "--json")

    assert (code, err) == (0, "")
    (part,) = json.loads(out)["next_sync"]["parts"]
    assert (part["prompt"], part["decision"]) == (PERSONA, "keep_local")
    assert part["why"] == "changed in the charter since the last sync"

    report = synced.sync()
    assert not report.failed, report.to_json()
    assert synced.template(PERSONA) == persona
    assert latest_messages(opik_client, synced, COMPOSITE)[0]["content"] == persona


def test_a_rollback_foresees_first_contact_as_the_sync_finds_it(synced, opik_client, capsys):
    # The task was optimized in Opik and synced; then this copy loses its state file (a
    # fresh copy of the charter): the sync finds its base in Opik's record, and so does the
    # rollback's preview.
    original = synced.template(CHARTER_TASK)
    task = original + SUFFIX
    optimize(opik_client, synced, COMPOSITE, user=task)
    assert not synced.sync().failed and synced.template(CHARTER_TASK) == task
    synced.config.state_path.unlink()

    code, out, err = cli(capsys, synced, "rollback", COMPOSITE, "--to", "v1")

    assert (code, err) == (0, "")
    assert f"the next sync writes {CHARTER_TASK} from v1 (" in out
    assert "conflict" not in out

    report = synced.sync()
    assert not report.failed, report.to_json()
    assert synced.template(CHARTER_TASK) == original


def test_a_rollback_over_a_template_variable_change_foresees_the_refusal(
    synced, opik_client, capsys
):
    # The charter's task gains a variable and is pushed (v2); v1 lacks it.
    task = synced.template(CHARTER_TASK) + "\nAnswer in {{locale}}."
    synced.edit(CHARTER_TASK, task)
    assert not synced.sync().failed

    code, out, err = cli(capsys, synced, "rollback", COMPOSITE, "--to", "v1", "--json")

    assert (code, err) == (0, "")
    upcoming = json.loads(out)["next_sync"]
    assert upcoming["pulled"] and upcoming["changes"] == []
    assert "the user message dropped locale" in upcoming["reason"]

    report = synced.sync()
    assert report.counters["pull_failed"] == 1
    assert synced.template(CHARTER_TASK) == task
