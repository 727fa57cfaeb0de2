"""The three-way sync against a real Opik API (the emulator, or an external Opik), through the SDK."""

from __future__ import annotations

import gc

import pytest

from prompt_sync_tests.forseti import (
    CHARTER_TASK,
    COMPOSITE,
    COMPOSITES,
    PERSONA,
    PROMPTS,
    Forseti,
    chat_versions,
    latest_messages,
    optimize,
)


def test_first_sync_creates_the_seven_prompts(forseti, opik_client):
    report = forseti.sync()

    assert report.counters == {
        "pull_changed": 0,
        "pull_failed": 0,
        "individual_synced": 4,
        "individual_failed": 0,
        "composite_synced": 3,
        "composite_failed": 0,
    }
    project = forseti.config.opik.project_name
    for name in PROMPTS:
        assert opik_client.get_prompt(name=name, project_name=project).prompt == forseti.template(
            name
        )
    for name in COMPOSITES:
        assert len(chat_versions(opik_client, forseti, name)) == 1
    assert latest_messages(opik_client, forseti, COMPOSITE) == forseti.messages()


def test_second_sync_writes_nothing_and_reads_the_minimum(synced, opik_target):
    opik_target.clear_requests()

    report = synced.sync()

    assert not report.failed
    assert report.breakdown()["individual"] == {"unchanged": 4}
    assert report.breakdown()["composite"] == {"unchanged": 3}
    # The SDK client of the fixture may ping in the background; the sync's own requests are
    # the listing only: the project's id (also the access check), then one page of its prompts.
    requests = [r for r in opik_target.requests() if "is-alive" not in r.path]
    assert [(r.method, r.path.removeprefix("/api/v1/private")) for r in requests] == [
        ("POST", "/projects/retrieve"),
        ("GET", "/prompts"),
    ]


def test_remote_change_is_adopted_pushed_back_and_spares_the_other_composites(synced, opik_client):
    new_task = synced.template(CHARTER_TASK) + "\nCite the rule numbers you relied on."
    optimize(opik_client, synced, user=new_task)
    untouched = {n: len(chat_versions(opik_client, synced, n)) for n in COMPOSITES[1:]}

    report = synced.sync()

    assert report.counters["pull_changed"] == 1
    assert not report.failed
    assert synced.template(CHARTER_TASK) == new_task
    project = synced.config.opik.project_name
    assert opik_client.get_prompt(name=CHARTER_TASK, project_name=project).prompt == new_task
    assert {n: len(chat_versions(opik_client, synced, n)) for n in COMPOSITES[1:]} == untouched
    # The adopted version is now the base: no new composite version, a tag instead.
    assert len(chat_versions(opik_client, synced, COMPOSITE)) == 2
    assert [a.outcome for a in report.steps("pull") if a.subject == COMPOSITE] == ["recorded_base"]
    assert [a.outcome for a in report.steps("composite") if a.subject == COMPOSITE] == ["unchanged"]


def test_pull_alone_records_the_base_so_a_later_local_edit_is_a_clean_push(synced, opik_client):
    optimize(opik_client, synced, user="Optimized {{charter}} {{post}}")
    assert synced.sync(push=False).counters["pull_changed"] == 1
    synced.edit(CHARTER_TASK, "Then edited locally {{charter}} {{post}}")

    report = synced.sync()

    assert not report.failed, report.to_json()
    assert latest_messages(opik_client, synced, COMPOSITE)[1]["content"] == (
        "Then edited locally {{charter}} {{post}}"
    )


def test_adopted_optimization_then_local_edit_is_a_clean_push(synced, opik_client):
    optimize(opik_client, synced, user="Optimized: {{charter}} / {{post}}")
    assert not synced.sync().failed
    synced.edit(CHARTER_TASK, "Edited locally: {{charter}} / {{post}}")

    report = synced.sync()

    assert not report.failed, report.to_json()
    assert report.counters["pull_changed"] == 0
    assert latest_messages(opik_client, synced, COMPOSITE)[1]["content"] == (
        "Edited locally: {{charter}} / {{post}}"
    )


def test_local_edit_is_kept_and_pushed(synced, opik_client):
    synced.edit(CHARTER_TASK, "Locally improved: {{charter}} {{post}}")

    report = synced.sync()

    assert report.counters["pull_changed"] == 0
    assert not report.failed
    assert synced.template(CHARTER_TASK) == "Locally improved: {{charter}} {{post}}"
    assert latest_messages(opik_client, synced, COMPOSITE)[1]["content"] == (
        "Locally improved: {{charter}} {{post}}"
    )


def test_both_sides_changed_is_a_conflict_that_writes_nothing(synced, opik_client):
    optimize(opik_client, synced, user="Opik's text {{charter}} {{post}}")
    synced.edit(CHARTER_TASK, "Charter's text {{charter}} {{post}}")
    charter_before = synced.charter_path.read_text()
    versions_before = len(chat_versions(opik_client, synced, COMPOSITE))

    report = synced.sync()

    assert report.failed
    assert report.counters["pull_failed"] == 1
    assert report.counters["individual_failed"] == 1
    assert report.counters["composite_failed"] == 1
    assert report.counters["composite_synced"] == 2
    assert synced.charter_path.read_text() == charter_before
    assert len(chat_versions(opik_client, synced, COMPOSITE)) == versions_before
    conflict = next(a for a in report.steps("pull") if a.outcome == "conflict")
    assert "Opik's text" in conflict.reason and "Charter's text" in conflict.reason
    assert str(synced.charter_path) in conflict.reason
    assert "--keep-charter forseti.charter_validation" in conflict.reason


@pytest.mark.parametrize("side", ["charter", "opik"])
def test_a_conflict_is_resolved_by_naming_the_side_to_keep(synced, opik_client, side):
    optimize(opik_client, synced, user="Opik's text {{charter}} {{post}}")
    synced.edit(CHARTER_TASK, "Charter's text {{charter}} {{post}}")

    report = synced.sync(keep={CHARTER_TASK: side})

    assert not report.failed, report.to_json()
    expected = "Charter's text" if side == "charter" else "Opik's text"
    assert synced.template(CHARTER_TASK).startswith(expected)
    assert latest_messages(opik_client, synced, COMPOSITE)[1]["content"].startswith(expected)
    assert not synced.sync().failed


def test_shared_prompt_changed_alike_in_two_composites_is_adopted_with_a_warning(
    synced, opik_client
):
    persona = synced.template(PERSONA) + "\nStay calm."
    optimize(opik_client, synced, COMPOSITES[0], system=persona)
    category = synced.config.composites[COMPOSITES[1]].user_prompt
    optimize(opik_client, synced, COMPOSITES[1], system=persona, user=synced.template(category))

    report = synced.sync()

    assert not report.failed, report.to_json()
    assert report.counters["pull_changed"] == 1
    assert synced.template(PERSONA) == persona
    assert any(PERSONA in w and COMPOSITES[2] in w for w in report.warnings)
    assert latest_messages(opik_client, synced, COMPOSITES[2])[0]["content"] == persona


def test_shared_prompt_changed_differently_is_a_conflict(synced, opik_client):
    optimize(opik_client, synced, COMPOSITES[0], system="Persona A {{community_name}} {{language}}")
    category = synced.config.composites[COMPOSITES[1]].user_prompt
    optimize(
        opik_client,
        synced,
        COMPOSITES[1],
        system="Persona B {{community_name}} {{language}}",
        user=synced.template(category),
    )
    persona_before = synced.template(PERSONA)

    report = synced.sync()

    assert report.failed
    assert synced.template(PERSONA) == persona_before
    assert report.counters["pull_changed"] == 0
    # Every composite carries the persona, so none is pushed; the task prompts still are.
    assert report.counters["composite_failed"] == 3
    assert report.counters["individual_synced"] == 3


def test_first_contact_without_base_is_a_conflict_unless_a_side_is_trusted(forseti, opik_client):
    optimize(opik_client, forseti, user="Made in Opik first {{charter}} {{post}}")

    report = forseti.sync()
    assert report.failed
    assert any("no base" in a.reason for a in report.steps("pull"))

    forseti.configure(first_contact="opik")
    report = forseti.sync()
    assert not report.failed, report.to_json()
    assert forseti.template(CHARTER_TASK) == "Made in Opik first {{charter}} {{post}}"


def test_first_contact_trusting_the_charter_pushes_over_opik(forseti, opik_client):
    optimize(opik_client, forseti, user="Made in Opik first {{charter}} {{post}}")
    forseti.configure(first_contact="charter")

    report = forseti.sync()

    assert not report.failed, report.to_json()
    assert latest_messages(opik_client, forseti, COMPOSITE) == forseti.messages()


def test_pull_environment_pulls_the_version_it_points_to(synced, opik_client):
    project = synced.config.opik.project_name
    optimize(opik_client, synced, user="Production candidate {{charter}} {{post}}")
    optimize(opik_client, synced, user="Unreviewed experiment {{charter}} {{post}}")
    if "production" not in {e.name for e in opik_client.get_environments()}:
        opik_client.create_environment(name="production")
    opik_client.set_prompt_environments(
        prompt_name=COMPOSITE, environments=["production"], version="v2", project_name=project
    )
    synced.configure(pull_environment="production")

    report = synced.sync(push=False)

    assert report.counters["pull_changed"] == 1
    assert synced.template(CHARTER_TASK) == "Production candidate {{charter}} {{post}}"


def test_push_only_never_buries_an_unpulled_remote_change(synced, opik_client):
    optimize(opik_client, synced, user="Optimized {{charter}} {{post}}")
    synced.edit(PERSONA, synced.template(PERSONA) + "\nLocal persona edit.")

    report = synced.sync(pull=False)

    failed = [a for a in report.steps("composite") if not a.ok]
    assert [a.subject for a in failed] == [COMPOSITE]
    assert "pull first" in failed[0].reason
    assert latest_messages(opik_client, synced, COMPOSITE)[1]["content"] == (
        "Optimized {{charter}} {{post}}"
    )
    assert report.counters["composite_synced"] == 2


def test_dry_run_plans_with_diffs_and_changes_nothing(synced, opik_client, opik_target):
    optimize(opik_client, synced, user="Optimized {{charter}} {{post}}")
    synced.edit(PERSONA, synced.template(PERSONA) + "\nLocal persona edit.")
    charter_before = synced.charter_path.read_text()
    opik_target.clear_requests()

    report = synced.sync(dry_run=True)

    assert report.dry_run and not report.failed
    assert synced.charter_path.read_text() == charter_before
    assert [r for r in opik_target.requests() if r.method in ("PATCH", "PUT", "DELETE")] == []
    assert [r for r in opik_target.requests() if r.path.endswith("/prompts/versions")] == []
    adopted = next(a for a in report.steps("pull") if a.outcome == "adopted")
    assert "+Optimized {{charter}} {{post}}" in adopted.diff
    persona = next(a for a in report.steps("individual") if a.subject == PERSONA)
    assert persona.outcome == "created" and "+Local persona edit." in persona.diff


def test_provenance_copied_onto_an_edited_version_is_not_taken_for_a_base(synced, opik_client):
    project = synced.config.opik.project_name
    ours = opik_client.get_chat_prompt(name=COMPOSITE, project_name=project)
    # An editor saves a new version and carries the tool's metadata forward unchanged.
    opik_client.create_chat_prompt(
        name=COMPOSITE,
        messages=synced.messages(user="Edited in Opik {{charter}} {{post}}"),
        metadata=ours.metadata,
        project_name=project,
    )

    report = synced.sync()

    # Had the copied record counted, the edit would look like the base and be pushed over.
    assert not report.failed, report.to_json()
    assert report.counters["pull_changed"] == 1
    assert synced.template(CHARTER_TASK) == "Edited in Opik {{charter}} {{post}}"


def _point_production_to(client, forseti: Forseti, version: str) -> None:
    if "production" not in {e.name for e in client.get_environments()}:
        client.create_environment(name="production")
    client.set_prompt_environments(
        prompt_name=COMPOSITE,
        environments=["production"],
        version=version,
        project_name=forseti.config.opik.project_name,
    )


def test_pull_environment_follows_promotions_past_the_latest_version(synced, opik_client):
    synced.configure(pull_environment="production")
    _point_production_to(opik_client, synced, "v1")
    optimize(opik_client, synced, user="Round one {{charter}} {{post}}")
    optimize(opik_client, synced, user="Round two {{charter}} {{post}}")

    _point_production_to(opik_client, synced, "v2")  # promoted; v3 is still an experiment
    first = synced.sync()
    assert not first.failed, first.to_json()
    assert synced.template(CHARTER_TASK) == "Round one {{charter}} {{post}}"

    _point_production_to(opik_client, synced, "v3")  # built on v2: no conflict
    second = synced.sync()
    assert not second.failed, second.to_json()
    assert synced.template(CHARTER_TASK) == "Round two {{charter}} {{post}}"


def test_pull_environment_left_on_an_already_synced_version_is_not_a_change(synced, opik_client):
    synced.configure(pull_environment="production")
    _point_production_to(opik_client, synced, "v1")
    synced.edit(CHARTER_TASK, "Edited locally {{charter}} {{post}}")
    assert not synced.sync().failed  # pushes v2; production still points to v1

    report = synced.sync()

    assert not report.failed, report.to_json()
    assert synced.template(CHARTER_TASK) == "Edited locally {{charter}} {{post}}"
    assert report.breakdown()["composite"] == {"unchanged": 3}


def test_keep_opik_resolves_a_persona_conflict_and_spreads_the_persona(synced, opik_client):
    original = synced.template(PERSONA)
    synced.edit(PERSONA, original + "\nLocal persona line.")
    optimized = original + "\nOpik persona line."
    optimize(opik_client, synced, system=optimized)
    conflict = next(a for a in synced.sync().steps("pull") if a.outcome == "conflict")
    assert f"--keep-opik {PERSONA}" in conflict.reason

    report = synced.sync(keep={PERSONA: "opik"})

    assert not report.failed, report.to_json()
    assert synced.template(PERSONA) == optimized
    for name in COMPOSITES:
        assert latest_messages(opik_client, synced, name)[0]["content"] == optimized


def test_an_opik_edit_saved_during_a_run_is_reported_as_a_write_race(synced, opik_client):
    from prompt_sync_pipeline.sync.report import SyncReport

    synced.edit(PERSONA, synced.template(PERSONA) + "\nLocal persona line.")
    engine, project = synced.engine()
    report = SyncReport()
    charter = engine.load_charter()
    plan = engine.plan_pull(charter, engine.read_composites())
    charter = engine.apply_pull(charter, plan, report)
    # Someone saves a version between this run's pull and its push.
    opik_client.create_chat_prompt(
        name=COMPOSITE,
        messages=[
            {"role": "system", "content": "Saved mid-run {{community_name}} {{language}}"},
            {"role": "user", "content": synced.template(CHARTER_TASK)},
        ],
        project_name=synced.config.opik.project_name,
    )
    engine.push_composites(charter, report, plan)
    project.close()

    # Opik has no compare-and-set: the push lands on top of it, and says so with both texts.
    failed = next(a for a in report.steps("composite") if a.subject == COMPOSITE)
    assert (failed.ok, failed.outcome) == (False, "conflict")
    assert "Saved mid-run" in failed.reason and "Local persona line." in failed.reason
    assert f"--keep-opik {COMPOSITE}" in failed.reason


def test_pull_environment_costs_one_read_per_composite_on_a_no_op(synced, opik_client, opik_target):
    from prompt_sync_pipeline.opik.project import OpikProject

    synced.configure(pull_environment="production")
    _point_production_to(opik_client, synced, "v1")
    assert not synced.sync().failed
    with OpikProject.connect(synced.config.opik) as project:
        before = project.prompts.list_prompts()[COMPOSITE]
        opik_client.set_prompt_environments(
            prompt_name=COMPOSITE,
            environments=["production", "staging"],
            version="v1",
            project_name=synced.config.opik.project_name,
        )
        after = project.prompts.list_prompts()[COMPOSITE]
    # Moving an environment doesn't show on the listing: each composite's environment is read.
    assert (after.version_count, after.last_updated_at) == (
        before.version_count,
        before.last_updated_at,
    )
    opik_target.clear_requests()

    report = synced.sync()

    assert not report.failed, report.to_json()
    requests = [r for r in opik_target.requests() if "is-alive" not in r.path]
    # The listing (2, the first also the access check), one environment read each.
    assert len(requests) == 2 + len(COMPOSITES)


def test_a_run_leaves_the_garbage_collector_as_it_found_it(synced):
    # A run freezes its configuration and state out of the collector's passes; a long-lived
    # process (the demo, a notebook) must get its collector back, and keep its own freeze.
    assert not synced.sync().failed
    assert gc.isenabled() and gc.get_freeze_count() == 0

    gc.freeze()
    try:
        assert not synced.sync().failed
        assert gc.isenabled() and gc.get_freeze_count() > 0  # still frozen (minus what was freed)
    finally:
        gc.unfreeze()
