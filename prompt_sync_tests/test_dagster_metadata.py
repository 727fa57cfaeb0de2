"""Metadata that reads well on the asset page: narrow tables, long texts and diffs on their own,
numbers on both checks (their plots), descriptions without raw markup."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest

from prompt_sync_tests.dagster_helpers import (
    CREATE_VERSION,
    RESOLVE_JOB,
    SCHEDULE,
    SYNC_JOB,
    check_results,
    code_location,
    materializations,
    run_job,
)
from prompt_sync_tests.forseti import CHARTER_TASK, Forseti, make_forseti, optimize

WORDING = "forseti.wording_correction"
MAX_CELL = 40  # characters: a cell that fits a column of the asset page's metadata table


@pytest.fixture
def forseti(tmp_path: Path, opik_target, monkeypatch: pytest.MonkeyPatch) -> Forseti:
    example = make_forseti(tmp_path, opik_target.project_name)
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(example.config_path))
    return example


def table_cells(markdown: str) -> list[list[str]]:
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows[2:]]


def test_summaries_are_narrow_and_long_texts_are_entries_of_their_own(
    forseti, opik_target, opik_client
):
    forseti.sync()
    optimize(opik_client, forseti, user=forseti.template(CHARTER_TASK) + "\nBe brief.")
    forseti.edit(WORDING, forseti.template(WORDING) + "\nKeep emojis.")
    refusal = "Prompt version refused: " + "the template is not acceptable here. " * 4
    opik_target.inject(CREATE_VERSION, "POST", status=400, times=1, body={"errors": [refusal]})

    with dg.instance_for_test() as instance:
        result = run_job(instance)

    metadata = materializations(result)
    for asset, values in metadata.items():
        for row in table_cells(values["summary"]):
            assert len(row) <= 4, (asset, row)
            assert all(len(cell) <= MAX_CELL for cell in row), (asset, row)
    individuals = metadata["pushed_individuals"]
    assert " | failed ⚠ | " in individuals["summary"]
    assert refusal.strip() in individuals["notes"]  # the long reason, in full, on its own
    pull = metadata["local_individual_prompts"]
    assert "+Be brief." in pull[f"diff: {CHARTER_TASK}"]
    assert "+Keep emojis." in metadata["pushed_composites"]["diff: forseti-persona-wording"]
    assert not any(key.startswith("diff: ") for key in metadata["opik_composites"])


def test_both_checks_carry_numbers_to_plot(forseti, opik_client):
    with dg.instance_for_test() as instance:
        result = run_job(instance)

    checks = check_results(result)
    drift = {k: v.value for k, v in checks["persona_drift"].metadata.items()}
    match = {k: v.value for k, v in checks["composites_match_charter"].metadata.items()}
    assert (drift["drifting_composites"], drift["composites_conflicting"]) == (0, 0)
    assert drift["composites_unread"] == 0
    assert (match["composites_matching"], match["composites_mismatched"]) == (3, 0)
    assert match["composites_unread"] == 0


def test_descriptions_shown_in_the_ui_have_no_raw_markup():
    defs = code_location()
    repository = defs.get_repository_def()
    texts: dict[str, str] = {}
    for assets_def in repository.assets_defs_by_key.values():
        for key in assets_def.keys:
            texts[f"asset {key.to_user_string()}"] = assets_def.specs_by_key[key].description or ""
        for spec in assets_def.check_specs:
            texts[f"check {spec.name}"] = spec.description or ""
    for name, resource in defs.resources.items():
        texts[f"resource {name}"] = resource.get_resource_definition().description or ""
    texts["job"] = defs.resolve_job_def(SYNC_JOB).description or ""
    texts["resolve job"] = defs.resolve_job_def(RESOLVE_JOB).description or ""
    texts["schedule"] = defs.resolve_schedule_def(SCHEDULE).description or ""

    assert all(texts.values())
    raw = {name: text for name, text in texts.items() if "``" in text}
    assert raw == {}
