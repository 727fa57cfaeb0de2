"""The sync state file on its own: format, recovery messages, change detection from a listing."""

import json

import pytest

from prompt_sync_pipeline.opik import RemotePrompt
from prompt_sync_pipeline.sync.messages import Fixes
from prompt_sync_pipeline.sync.state import (
    CompositeBase,
    IndividualSeen,
    PartBase,
    StateError,
    SyncState,
    load_state,
)
from prompt_sync_tests.forseti import COMPOSITE, COMPOSITES, PERSONA

FIXES = Fixes.for_config("teams/forseti.yaml")


def _load(path, workspace="ws", project="forseti"):
    return load_state(path, workspace=workspace, project=project, fixes=FIXES)


def _state() -> SyncState:
    return SyncState(
        workspace="ws",
        project="forseti",
        composites={
            "forseti-persona-charter": CompositeBase(
                prompt_id="p1",
                version_count=2,
                version_id="v-2",
                version_number="v2",
                commit="abcd1234",
                template_type="mustache",
                parts={
                    "system": PartBase(prompt="forseti.persona", sha256="s" * 64),
                    "user": PartBase(prompt="forseti.charter_validation", sha256="u" * 64),
                },
            )
        },
        individuals={
            "forseti.persona": IndividualSeen(
                prompt_id="p2",
                version_count=1,
                version_id="v-1",
                version_number="v1",
                commit="0000aaaa",
                sha256="s" * 64,
            )
        },
    )


def test_round_trip_is_stable(tmp_path):
    path = tmp_path / "charter.sync-state.json"
    assert _load(path) is None
    path.write_text(_state().render())
    text = path.read_text()
    assert text.endswith("\n") and text.index('"composites"') < text.index('"individuals"')
    assert _load(path) == _state()
    assert _load(path).render() == text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not a valid sync state"),
        ('{\n<<<<<<< HEAD\n"a": 1\n=======\n"a": 2\n>>>>>>> other\n}\n', "git conflict markers"),
        ('{"workspace": "ws", "project": "forseti", "format": 7}', "format"),
    ],
)
def test_unusable_files_say_how_to_recover(tmp_path, content, expected):
    path = tmp_path / "charter.sync-state.json"
    path.write_text(content)
    with pytest.raises(StateError, match=expected) as raised:
        _load(path)
    # The way out names the configuration the run used.
    assert "`prompt-sync --config teams/forseti.yaml sync --rebuild-state`" in str(raised.value)


def test_a_state_of_another_project_is_refused(tmp_path):
    path = tmp_path / "charter.sync-state.json"
    path.write_text(_state().render())
    with pytest.raises(StateError, match=r"project 'forseti'.*project 'other'") as raised:
        _load(path, project="other")
    assert "point the configuration at the right project, or run `prompt-sync" in str(raised.value)


def test_the_listing_names_only_prompts_with_unseen_versions():
    state = _state()
    listing = {
        "forseti-persona-charter": RemotePrompt("p1", "forseti-persona-charter", "chat", 3),
        "forseti.persona": RemotePrompt("p2", "forseti.persona", "text", 1),
        "forseti.new": RemotePrompt("p3", "forseti.new", "text", 1),
    }
    names = ["forseti-persona-charter", "forseti.persona", "forseti.new", "forseti.absent"]
    assert state.changed_in_opik(listing, names) == ["forseti-persona-charter", "forseti.new"]
    # A prompt deleted and re-created in Opik has a new id: read it again.
    listing["forseti.persona"] = RemotePrompt("p9", "forseti.persona", "text", 1)
    assert "forseti.persona" in state.changed_in_opik(listing, names)


def test_the_layout_is_the_standard_json_encoders(tmp_path):
    # Files written before the faster encoder must not change on a no-op run (nor churn in git).
    state = _state().model_copy(
        update={
            "individuals": {
                **_state().individuals,
                'tâche "é" \\ \t\u2028': _state().individuals["forseti.persona"],
            }
        }
    )
    document = state.model_dump(mode="json", exclude_none=True)
    legacy = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert state.render() == legacy


def test_a_save_keeps_what_another_writer_recorded_since_the_last_save(synced):
    path = synced.config.state_path
    engine, project = synced.engine()
    with project:
        run = engine.state
        ours = run.composite(COMPOSITE).model_copy(update={"version_count": 0})
        run.record_composite(COMPOSITE, ours)
        assert run.save() is True
        # Between two steps of this run, another writer records an individual prompt.
        theirs = _load(path, project.workspace, synced.config.opik.project_name)
        seen = theirs.individuals[PERSONA].model_copy(update={"version_count": 99})
        individuals = {**theirs.individuals, PERSONA: seen}
        path.write_text(theirs.model_copy(update={"individuals": individuals}).render())
        other = run.composite(COMPOSITES[1]).model_copy(update={"version_count": 0})
        run.record_composite(COMPOSITES[1], other)
        assert run.save() is True

    final = _load(path, project.workspace, synced.config.opik.project_name)
    assert final.individuals[PERSONA] == seen
    assert final.composites[COMPOSITE] == ours and final.composites[COMPOSITES[1]] == other
