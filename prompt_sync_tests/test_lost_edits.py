"""Four ways an edit was lost (restores, type switches, malformed parts in conflict,
a charter edit during a run) and a write whose answer was lost. Each starts from the forseti
example after one sync, and talks to Opik through the real SDK."""

from __future__ import annotations

import json

from opik.api_objects.prompt.types import PromptType

from prompt_sync_tests.forseti import (
    CHARTER_TASK,
    COMPOSITE,
    COMPOSITES,
    PERSONA,
    PROMPTS,
    optimize,
)

WORDING = "forseti-persona-wording"
OPTIMIZED = "Optimized: judge {{post}} against {{charter}}."


def _versions(opik_client, forseti, name: str) -> list:
    """Every version of ``name`` as the REST API lists it, oldest first."""
    rest = opik_client.rest_client.prompts
    project = forseti.config.opik.project_name
    prompt_id = rest.retrieve_prompt_version(name=name, project_name=project).prompt_id
    page = rest.get_prompt_versions(prompt_id, size=100)
    return sorted(page.content, key=lambda v: int(v.version_number[1:]))


def test_a_restore_in_opik_is_pulled_not_pushed_over(synced, opik_client):
    original = synced.template(CHARTER_TASK)
    optimize(opik_client, synced, user=OPTIMIZED)
    assert not synced.sync().failed
    assert synced.template(CHARTER_TASK) == OPTIMIZED

    # The team goes back to v1 in Opik's UI: a new latest version carrying v1's metadata.
    v1 = _versions(opik_client, synced, COMPOSITE)[0]
    opik_client.rest_client.prompts.restore_prompt_version(v1.prompt_id, v1.id)

    report = synced.sync()

    assert not report.failed, report.to_json()
    assert report.counters["pull_changed"] == 1
    assert synced.template(CHARTER_TASK) == original
    versions = _versions(opik_client, synced, COMPOSITE)
    assert [v.change_description for v in versions][-1].startswith("Restored from version")
    assert len(versions) == 3  # nothing pushed over the restore
    assert not synced.sync().failed  # and no false conflict later
    assert len(_versions(opik_client, synced, COMPOSITE)) == 3


def _switch_type(opik_client, forseti, composite: str, template_type: PromptType) -> None:
    current = json.loads(_versions(opik_client, forseti, composite)[-1].template)
    opik_client.create_chat_prompt(
        name=composite,
        messages=current,
        type=template_type,
        project_name=forseti.config.opik.project_name,
    )


def test_a_type_switch_on_one_composite_is_refused_not_reverted(synced, opik_client):
    _switch_type(opik_client, synced, WORDING, PromptType.JINJA2)
    charter_before = synced.charter_path.read_bytes()

    report = synced.sync()

    assert report.failed
    pull = next(a for a in report.steps("pull") if a.subject == WORDING)
    assert (pull.ok, pull.outcome) == (False, "malformed")
    assert "'mustache' to 'jinja2'" in pull.reason and PERSONA in pull.reason
    assert synced.charter_path.read_bytes() == charter_before
    versions = _versions(opik_client, synced, WORDING)
    assert (len(versions), versions[-1].type) == (2, "jinja2")  # not pushed over


def test_a_type_switch_on_every_composite_sharing_the_parts_is_adopted(synced, opik_client):
    for composite in COMPOSITES:
        _switch_type(opik_client, synced, composite, PromptType.JINJA2)

    report = synced.sync()

    assert not report.failed, report.to_json()
    assert {name: synced.charter()[name]["type"] for name in PROMPTS} == dict.fromkeys(
        PROMPTS, "jinja2"
    )
    assert report.counters["pull_changed"] == len(PROMPTS)
    for composite in COMPOSITES:  # the switched versions became the bases: nothing pushed
        assert len(_versions(opik_client, synced, composite)) == 2
    again = synced.sync()
    assert not again.failed
    assert {a.outcome for a in again.actions} == {"unchanged"}


def test_a_malformed_composite_in_conflict_adopts_nothing(synced, opik_client):
    synced.edit(PERSONA, synced.template(PERSONA) + "\nLocal persona edit.")
    task_before = synced.template(CHARTER_TASK)
    persona = synced.template(PERSONA).replace(" in {{language}}", " in English")
    optimize(opik_client, synced, system=persona, user=OPTIMIZED)

    report = synced.sync()

    pull = next(a for a in report.steps("pull") if a.subject == COMPOSITE)
    assert (pull.ok, pull.outcome) == (False, "malformed")
    assert "dropped language" in pull.reason
    assert report.counters["pull_changed"] == 0
    assert synced.template(CHARTER_TASK) == task_before
    composite = next(a for a in report.steps("composite") if a.subject == COMPOSITE)
    assert not composite.ok and f"--keep-charter {COMPOSITE}" in composite.reason
    assert json.loads(_versions(opik_client, synced, COMPOSITE)[-1].template)[1]["content"] == (
        OPTIMIZED
    )


def test_a_charter_edit_saved_during_a_run_is_not_overwritten(synced, opik_client):
    optimize(opik_client, synced, user=OPTIMIZED)
    saved: list[bytes] = []

    def editor_saves(label: str, done: int, total: int) -> None:
        if label == "compare composites" and not saved:  # after the read, before the write
            synced.edit("forseti.wording_correction", "Reword {{post}} politely.")
            saved.append(synced.charter_path.read_bytes())

    report = synced.sync(progress=editor_saves)

    assert synced.charter_path.read_bytes() == saved[0]
    pull = next(a for a in report.steps("pull") if a.subject == COMPOSITE)
    assert not pull.ok and "changed on disk during this run" in pull.reason
    assert report.counters["pull_changed"] == 0
    latest = _versions(opik_client, synced, COMPOSITE)[-1]
    assert json.loads(latest.template)[1]["content"] == OPTIMIZED  # not buried

    again = synced.sync()  # nothing in the way now: both edits land
    assert not again.failed, again.to_json()
    assert synced.template(CHARTER_TASK) == OPTIMIZED
    assert synced.template("forseti.wording_correction") == "Reword {{post}} politely."


def test_a_write_whose_answers_were_all_lost_is_reported_created(synced, opik_client, opik_target):
    synced.edit(CHARTER_TASK, "Edited in git: {{charter}} {{post}}")
    opik_target.inject(r"/prompts/versions$", "POST", drop=True, after_commit=True, times=None)

    report = synced.sync()

    assert not report.failed, report.to_json()
    assert report.counters["individual_synced"] == len(PROMPTS)
    assert report.counters["composite_synced"] == len(COMPOSITES)
    versions = _versions(opik_client, synced, COMPOSITE)
    assert len(versions) == 2  # saved once, found by its commit, not duplicated
    assert json.loads(versions[-1].template)[1]["content"] == "Edited in git: {{charter}} {{post}}"
