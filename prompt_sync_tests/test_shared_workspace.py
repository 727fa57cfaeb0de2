"""Two charters with the same prompt names, each in its own Opik project of one workspace (two
teams scaffolded from the same starter). Opik looks a name up in every project of the workspace
when a project has no prompt of that name, on reads and on writes: neither charter may read or
write the other's prompts through it."""

from __future__ import annotations

from pathlib import Path

from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_tests.forseti import COMPOSITES, PROMPTS, Forseti, make_forseti


def _counts(client, forseti: Forseti) -> dict[str, int]:
    project = forseti.config.opik.project_name
    counts = {
        name: len(client.get_prompt_history(name=name, project_name=project)) for name in PROMPTS
    }
    for name in COMPOSITES:
        counts[name] = len(client.get_chat_prompt_history(name=name, project_name=project))
    return counts


def _prompt_ids(forseti: Forseti) -> dict[str, str]:
    """Name -> prompt id, as the project's listing shows them."""
    with OpikProject.connect(forseti.config.opik) as opik:
        return {name: prompt.id for name, prompt in opik.prompts.list_prompts().items()}


def test_each_charter_writes_its_own_projects_prompts(tmp_path: Path, opik_target, opik_client):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    team_a = make_forseti(tmp_path / "a", opik_target.project_name)
    team_b = make_forseti(tmp_path / "b", opik_target.project_name + "-b")
    assert not team_a.sync().failed
    before = _counts(opik_client, team_a)

    report = team_b.sync()

    assert not report.failed, report.to_json()
    assert _counts(opik_client, team_a) == before  # nothing landed in team A's prompts
    assert set(_counts(opik_client, team_b).values()) == {1}
    assert set(_prompt_ids(team_a).values()).isdisjoint(_prompt_ids(team_b).values())


def test_a_prompt_deleted_from_one_project_is_not_read_from_the_other(
    tmp_path: Path, opik_target, opik_client
):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    team_a = make_forseti(tmp_path / "a", opik_target.project_name)
    team_b = make_forseti(tmp_path / "b", opik_target.project_name + "-b")
    assert not team_a.sync().failed and not team_b.sync().failed
    opik_client.rest_client.prompts.delete_prompt(_prompt_ids(team_b)[COMPOSITES[0]])
    team_a.edit(PROMPTS[1], team_a.template(PROMPTS[1]) + " Team A's edit.")
    assert not team_a.sync().failed
    before = _counts(opik_client, team_a)

    report = team_b.sync()

    assert not report.failed, report.to_json()
    # Team B's composite comes back in team B's project, from team B's charter.
    project_b = team_b.config.opik.project_name
    restored = opik_client.get_chat_prompt(name=COMPOSITES[0], project_name=project_b)
    assert restored.template[1]["content"] == team_b.template(PROMPTS[1])
    assert "Team A's edit" not in team_b.template(PROMPTS[1])
    assert _counts(opik_client, team_a) == before
