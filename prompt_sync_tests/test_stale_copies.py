"""A copy of the charter that is behind Opik, or has no state entry of its own, never pushes its
old text over someone else's agreement, and two copies never take turns writing versions: the
three repros, with real files, two copies of the example and the emulator."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from prompt_sync_pipeline.sync.messages import Fixes
from prompt_sync_tests.forseti import Forseti, make_forseti, optimize

WORDING = "forseti.wording_correction"
WORDING_COMPOSITE = "forseti-persona-wording"
CATEGORY = "forseti.category_classification"
CATEGORY_COMPOSITE = "forseti-persona-category"


def copy_of(source: Forseti, directory: Path, *, with_state: bool) -> Forseti:
    """Another checkout of the same charter (a clone), with or without its state file."""
    directory.mkdir()
    shutil.copy(source.config_path, directory / source.config_path.name)
    shutil.copy(source.charter_path, directory / source.charter_path.name)
    state = source.config.state_path
    if with_state and state.exists():
        shutil.copy(state, directory / state.name)
    return Forseti(directory / source.config_path.name, directory / source.charter_path.name)


def versions(client: Any, forseti: Forseti, name: str) -> int:
    """How many versions the prompt has in Opik."""
    project = forseti.config.opik.project_name
    return len(client.get_prompt_history(name=name, project_name=project))


def chat_versions(client: Any, forseti: Forseti, name: str) -> int:
    project = forseti.config.opik.project_name
    return len(client.get_chat_prompt_history(name=name, project_name=project))


@pytest.fixture
def copies(tmp_path: Path, opik_target) -> tuple[Forseti, Forseti]:
    """Copies A and B of the example, same Opik project, neither with a state file yet."""
    (tmp_path / "a").mkdir()
    a = make_forseti(tmp_path / "a", opik_target.project_name)
    b = copy_of(a, tmp_path / "b", with_state=False)
    return a, b


# (a) A copy without a state file, behind Opik --------------------------------------------------


@pytest.mark.parametrize("how", ["no state file", "--rebuild-state"])
def test_a_copy_behind_opik_adopts_the_optimization_instead_of_reverting_it(
    copies, opik_client, how, tmp_path
):
    a, b = copies
    assert not a.sync().failed
    if how == "--rebuild-state":
        b = copy_of(a, tmp_path / "b-with-state", with_state=True)
    old_text = b.template(WORDING)
    optimized = old_text + "\nKeep it to one sentence."
    optimize(opik_client, a, WORDING_COMPOSITE, user=optimized)  # v2, made in Opik
    adopted = a.sync()
    assert adopted.counters["pull_changed"] == 1 and a.template(WORDING) == optimized

    report = b.sync(rebuild_state=how == "--rebuild-state")

    assert not report.failed, report.to_json()
    assert report.counters["pull_changed"] == 1
    assert b.template(WORDING) == optimized
    # Nothing of B's old text reached Opik: no v3 of the composite, the text prompt as A left it.
    assert chat_versions(opik_client, b, WORDING_COMPOSITE) == 2
    assert versions(opik_client, b, WORDING) == 2
    assert b.config.state_path.exists()


# (b) A state file with no entry for a composite ------------------------------------------------


def test_a_composite_missing_from_a_cloned_state_is_a_conflict_not_a_silent_push(
    copies, opik_client
):
    a, _ = copies
    in_opik_first = a.template(CATEGORY) + " (written in Opik first)"
    optimize(opik_client, a, CATEGORY_COMPOSITE, user=in_opik_first)  # before any sync
    first = a.sync()
    assert {x.subject for x in first.actions if x.outcome == "conflict"} == {CATEGORY_COMPOSITE}
    b = copy_of(a, a.config_path.parent.parent / "b-clone", with_state=True)
    assert CATEGORY_COMPOSITE not in b.config.state_path.read_text()

    assert not a.sync(keep={CATEGORY: "opik"}).failed
    a.edit(CATEGORY, a.template(CATEGORY) + " Edited by A.")
    assert not a.sync().failed
    before = chat_versions(opik_client, a, CATEGORY_COMPOSITE), versions(opik_client, a, CATEGORY)

    report = b.sync()

    (conflict,) = [x for x in report.actions if x.subject == CATEGORY_COMPOSITE and not x.ok][:1]
    assert conflict.outcome == "conflict" and "no base" in conflict.reason
    assert report.failed
    after = chat_versions(opik_client, b, CATEGORY_COMPOSITE), versions(opik_client, b, CATEGORY)
    assert after == before  # neither Opik's text nor A's edit is buried


# (c) Two copies never take turns -------------------------------------------------------------------


def test_copies_do_not_alternate_a_prompt_whose_composite_is_malformed(copies, opik_client):
    a, _ = copies
    assert not a.sync().failed
    b = copy_of(a, a.config_path.parent.parent / "b-clone", with_state=True)
    a.edit(CATEGORY, a.template(CATEGORY) + " Edited by A.")
    assert not a.sync().failed
    # Someone saves the composite with a third message: it can't be split any more.
    messages = [
        {"role": "system", "content": a.template("forseti.persona")},
        {"role": "user", "content": a.template(CATEGORY)},
        {"role": "assistant", "content": "An example answer."},
    ]
    project = a.config.opik.project_name
    opik_client.create_chat_prompt(name=CATEGORY_COMPOSITE, messages=messages, project_name=project)
    counts = versions(opik_client, a, CATEGORY), chat_versions(opik_client, a, CATEGORY_COMPOSITE)

    stale = b.sync(fixes=Fixes.for_config(b.config_path))

    (blocked,) = [x for x in stale.actions if x.step == "individual" and x.subject == CATEGORY]
    assert blocked.outcome == "blocked" and not blocked.ok
    assert "changed in Opik since the last sync" in blocked.reason
    assert f"{CATEGORY_COMPOSITE} (malformed) can't be pulled" in blocked.reason
    assert f"--keep-charter {CATEGORY_COMPOSITE}" in blocked.reason
    assert f"--config {b.config_path}" in blocked.reason
    # Round two, both copies: nothing new in Opik.
    a.sync()
    b.sync()
    assert (
        versions(opik_client, a, CATEGORY),
        chat_versions(opik_client, a, CATEGORY_COMPOSITE),
    ) == counts
