"""The three-way decision on its own: every row of the contract's table, and the edge cases the
stateful model found, as pure values (no emulator, no files, no SDK)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prompt_sync_pipeline.sync import composites as comp
from prompt_sync_pipeline.sync import decide
from prompt_sync_pipeline.sync.composites import Parts
from prompt_sync_pipeline.sync.decide import Base, PartChange, PullFailure, Remote
from prompt_sync_pipeline.sync.messages import Fixes
from prompt_sync_pipeline.sync.resolutions import NONE, Resolutions

PARTS = {"system": "persona", "user": "task"}
BASE_TEXT = Parts("You are Forseti.", "Check {{post}}.")
FIXES = Fixes.for_config("teams/forseti.yaml")


def base(
    parts: Parts = BASE_TEXT, template_type: str = "mustache", version_id: str = "v-5"
) -> Base:
    hashes = {role: comp.text_sha256(parts[role], template_type) for role in comp.ROLES}
    return Base(version_id, "v5 (base0001)", template_type, hashes)


def remote(
    parts: Parts | None,
    template_type: str = "mustache",
    version_id: str = "v-6",
    recorded: bool = False,
    problem: str = "",
) -> Remote:
    return Remote(version_id, "v6 (remote01)", template_type, parts, problem, recorded)


def classify(
    local: Parts,
    opik: Remote,
    agreed: Base | None,
    *,
    local_type: str = "mustache",
    keep: Resolutions = NONE,
    first_contact: decide.FirstContact = "conflict",
    composite: str = "c1",
) -> list[PartChange] | PullFailure:
    return decide.classify(composite, PARTS, local, local_type, opik, agreed, keep, first_contact)


def decisions(result: list[PartChange] | PullFailure) -> dict[str, str]:
    assert not isinstance(result, PullFailure), result
    return {change.role: change.decision for change in result}


# The table, per part ---------------------------------------------------------------------------

EDITED_CHARTER = Parts(BASE_TEXT.system, "Check {{post}} twice.")
OPTIMIZED = Parts(BASE_TEXT.system, "Check {{post}} carefully.")


@pytest.mark.parametrize(
    ("row", "local", "opik", "agreed", "expected"),
    [
        ("R equals L: nothing to do", OPTIMIZED, OPTIMIZED, base(), {}),
        ("L equals B, R differs: adopt", BASE_TEXT, OPTIMIZED, base(), {"user": "adopt"}),
        (
            "R equals B, L differs: keep L",
            EDITED_CHARTER,
            BASE_TEXT,
            base(),
            {"user": "keep_local"},
        ),
        ("L, R, B all differ: conflict", EDITED_CHARTER, OPTIMIZED, base(), {"user": "conflict"}),
        ("no base, L differs from R: conflict", BASE_TEXT, OPTIMIZED, None, {"user": "conflict"}),
    ],
)
def test_each_row_of_the_table(row, local, opik, agreed, expected):
    assert decisions(classify(local, remote(opik), agreed)) == expected, row


@pytest.mark.parametrize(("side", "expected"), [("charter", "keep_local"), ("opik", "adopt")])
def test_first_contact_trusts_the_side_the_configuration_names(side, expected):
    result = classify(BASE_TEXT, remote(OPTIMIZED), None, first_contact=side)
    assert decisions(result) == {"user": expected}
    assert f"trusts the {side}" in result[0].why  # type: ignore[index]


def test_a_conflict_says_why_and_shows_both_texts():
    (change,) = classify(EDITED_CHARTER, remote(OPTIMIZED), base())  # type: ignore[misc]
    assert (change.local, change.remote, change.prompt) == (
        EDITED_CHARTER.user,
        OPTIMIZED.user,
        "task",
    )
    assert change.why == "changed in both the charter and Opik since v5 (base0001)"


def test_an_environment_behind_the_base_is_no_opik_change():
    # The pull environment still points to an older version prompt-sync recorded.
    older = remote(BASE_TEXT, version_id="v-3", recorded=True)
    assert decisions(classify(EDITED_CHARTER, older, base())) == {"user": "keep_local"}
    # Not recorded: someone else's older version is an Opik change like any other.
    assert decisions(classify(BASE_TEXT, remote(OPTIMIZED, version_id="v-3"), base())) == {
        "user": "adopt"
    }


# Resolutions -----------------------------------------------------------------------------------


def test_keeping_the_charters_text_wins_over_any_decision():
    keep = Resolutions(prompts={"task": "charter"})
    assert decisions(classify(BASE_TEXT, remote(OPTIMIZED), base(), keep=keep)) == {
        "user": "keep_local"
    }


def test_keeping_opiks_text_settles_a_conflict_but_never_reverts_a_charter_edit():
    keep = Resolutions(prompts={"task": "opik"})
    assert decisions(classify(EDITED_CHARTER, remote(OPTIMIZED), base(), keep=keep)) == {
        "user": "adopt"
    }
    # Opik never changed it since the base: the charter's edit stays and is pushed.
    assert decisions(classify(EDITED_CHARTER, remote(BASE_TEXT), base(), keep=keep)) == {
        "user": "keep_local"
    }


def test_one_composites_version_of_a_shared_prompt_wins():
    keep = Resolutions(winners={"persona": "c2"})
    persona_elsewhere = Parts("You are Forseti, briefly.", BASE_TEXT.user)
    assert decisions(classify(BASE_TEXT, remote(persona_elsewhere), base(), keep=keep)) == {
        "system": "keep_local"
    }
    assert decisions(
        classify(BASE_TEXT, remote(persona_elsewhere), base(), keep=keep, composite="c2")
    ) == {"system": "adopt"}


def test_keeping_the_charters_composite_takes_nothing_from_opik():
    keep = Resolutions(composites={"c1": "charter"})
    assert classify(BASE_TEXT, remote(None, problem="3 messages"), base(), keep=keep) == []


# Malformed wins ----------------------------------------------------------------------------------


def test_a_composite_that_cant_be_split_is_malformed():
    failure = classify(BASE_TEXT, remote(None, problem="expected one system message"), base())
    assert failure == PullFailure("malformed", "v6 (remote01): expected one system message")


def test_a_dropped_variable_is_malformed_even_when_the_other_part_conflicts():
    dropped = Parts("You are Forseti, v2.", "Check the post.")
    local = Parts("You are Forseti, v3.", BASE_TEXT.user)
    failure = classify(local, remote(dropped), base())
    assert isinstance(failure, PullFailure) and failure.kind == "malformed"
    assert "dropped post" in failure.reason


def test_a_dropped_variable_in_a_part_the_charter_keeps_is_no_problem():
    charter_edit = Parts(BASE_TEXT.system, "Check the post.")  # the charter dropped it
    assert decisions(classify(charter_edit, remote(BASE_TEXT), base())) == {"user": "keep_local"}


def test_an_unknown_template_type_cant_be_split():
    with pytest.raises(comp.MalformedComposite, match="unknown template type 'python'"):
        comp.decompose(BASE_TEXT.messages(), "python")


def test_a_record_copied_onto_another_version_is_not_genuine():
    digest = comp.content_hash(BASE_TEXT.messages(), "mustache")
    record = comp.provenance(PARTS, digest, commit="aaaa0001")
    assert comp.is_recorded_base(record, [], digest, "aaaa0001")
    # Opik's restore copies metadata onto a new version with its own commit.
    assert not comp.is_recorded_base(record, [], digest, "bbbb0002")
    assert comp.is_recorded_base(None, [comp.base_tag(digest)], digest, "bbbb0002")


# The template type -------------------------------------------------------------------------------


def _type_change(local_type: str, remote_type: str, agreed: Base | None) -> str:
    result = classify(BASE_TEXT, remote(BASE_TEXT, remote_type), agreed, local_type=local_type)
    assert not isinstance(result, PullFailure)
    (change,) = result
    assert change.role == decide.TYPE_ROLE
    return change.decision


def test_the_template_type_is_decided_like_a_part():
    assert _type_change("mustache", "jinja2", base(template_type="mustache")) == "adopt"
    assert _type_change("jinja2", "mustache", base(template_type="mustache")) == "keep_local"
    assert _type_change("jinja2", "python", base(template_type="mustache")) == "conflict"
    assert _type_change("mustache", "jinja2", None) == "conflict"


TABLE = {
    "c1": PARTS,
    "c2": {"system": "persona", "user": "task-2"},
    "c3": {"system": "x", "user": "y"},
}


def _type_switch(types: dict[str, str | None]) -> tuple[list[PartChange], dict, dict]:
    change = PartChange("c1", decide.TYPE_ROLE, "persona", "adopt", "mustache", "jinja2", "v6")
    failures: dict[str, PullFailure] = {}
    changes, adoptions = decide.settle_types([change], failures, types, TABLE, FIXES)
    return changes, adoptions, failures


def test_a_type_switch_is_adopted_when_every_composite_sharing_the_parts_shows_it():
    _, adoptions, failures = _type_switch({"c1": "jinja2", "c2": "jinja2", "c3": "mustache"})
    assert adoptions == {"persona": "jinja2", "task": "jinja2", "task-2": "jinja2"}
    assert failures == {}
    # A composite not in Opik yet agrees: the push creates it with the adopted type.
    assert _type_switch({"c1": "jinja2", "c2": None})[1]["task-2"] == "jinja2"


def test_a_type_switch_on_one_composite_only_is_refused_with_the_fix():
    _, adoptions, failures = _type_switch({"c1": "jinja2", "c2": "mustache"})
    assert adoptions == {}
    assert failures["c1"].kind == "malformed"
    assert "c2 (sharing persona, task, task-2) is not 'jinja2'" in failures["c1"].reason
    assert (
        "`prompt-sync --config teams/forseti.yaml sync --keep-charter c1`" in failures["c1"].reason
    )
    # An unread composite can't agree either.
    assert "c1" in _type_switch({"c1": "jinja2"})[2]


# Shared prompts ----------------------------------------------------------------------------------


def _proposal(composite: str, text: str, decision: decide.Decision = "adopt") -> PartChange:
    return PartChange(composite, "system", "persona", decision, "old", text, "v2")


def test_a_shared_prompt_is_adopted_when_every_composite_that_changed_it_agrees():
    outcome = decide.agree_on_shared_parts([_proposal("c1", "new"), _proposal("c2", "new")])
    assert outcome.adoptions == {"persona": "new"} and outcome.conflicts == {}


def test_composites_that_disagree_on_a_shared_prompt_are_a_conflict():
    changes = [_proposal("c1", "new"), _proposal("c2", "other")]
    outcome = decide.agree_on_shared_parts(changes)
    assert outcome.adoptions == {} and [c.composite for c in outcome.conflicts["persona"]] == [
        "c1",
        "c2",
    ]
    assert {c.why for c in changes} == {"composites in Opik disagree on this shared prompt"}


def test_a_conflict_in_one_composite_blocks_the_adoption_from_another():
    outcome = decide.agree_on_shared_parts(
        [_proposal("c1", "new"), _proposal("c2", "new", "conflict")]
    )
    assert outcome.adoptions == {} and len(outcome.conflicts["persona"]) == 2


# First contact: a base this copy can vouch for -----------------------------------------------------


def _first_contact(*versions: Remote, local: Parts = BASE_TEXT) -> Base | None:
    hashes = {role: comp.text_sha256(local[role], "mustache") for role in comp.ROLES}
    return decide.first_contact_base(versions, local, "mustache", hashes)


def test_first_contact_takes_the_newest_recorded_version_equal_to_the_charter():
    found = _first_contact(remote(BASE_TEXT, version_id="v-6", recorded=True))
    assert found is not None and found.version_id == "v-6"


def test_a_charter_equal_to_an_older_record_is_behind_and_adopts_opiks_text():
    newest = remote(OPTIMIZED, version_id="v-7", recorded=True)  # another copy's agreement
    older = remote(BASE_TEXT, version_id="v-5", recorded=True)
    found = _first_contact(newest, older)
    assert found is not None and found.version_id == "v-5"
    assert decisions(classify(BASE_TEXT, newest, found)) == {"user": "adopt"}


def test_without_a_record_equal_to_the_charter_there_is_no_base_and_no_silent_push():
    unrecorded_copy = remote(EDITED_CHARTER, version_id="v-6")  # equal, but nobody vouched
    other_copy = remote(OPTIMIZED, version_id="v-7", recorded=True)
    assert _first_contact(other_copy, unrecorded_copy, local=EDITED_CHARTER) is None
    assert decide.may_replace(other_copy, None, "conflict") is False


# What a push may supersede -------------------------------------------------------------------------


def test_a_push_supersedes_only_an_agreed_version():
    agreed = base()
    assert decide.may_replace(remote(BASE_TEXT, version_id="v-5"), agreed, "conflict")
    assert decide.may_replace(remote(BASE_TEXT, version_id="v-9"), agreed, "conflict")  # same text
    assert not decide.may_replace(remote(OPTIMIZED), agreed, "conflict")
    assert not decide.may_replace(remote(None, problem="bad"), agreed, "conflict")
    assert not decide.may_replace(remote(BASE_TEXT, "jinja2"), agreed, "conflict")
    assert decide.may_replace(remote(OPTIMIZED), None, "charter")


def test_the_decision_module_imports_no_sdk_http_client_or_dagster():
    code = (
        "import sys; import prompt_sync_pipeline.sync.decide; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'opik', 'httpx', 'dagster', 'requests', 'urllib3', 'tenacity', 'jinja2', 'yaml', "
        "'filelock'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
