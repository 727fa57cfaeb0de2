"""Git delivery in ``prompt_sync_job``: a real Dagster instance, real repositories, real git."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg
import pytest

from prompt_sync_tests.dagster_helpers import materializations, run_job, run_tags, step_failures
from prompt_sync_tests.forseti import CHARTER_TASK, optimize
from prompt_sync_tests.gitrepos import CHARTER, GIT_ENV, Team, git, make_team

OPTIMIZED = "\nAnswer in at most two sentences."


@pytest.fixture
def team(tmp_path: Path, opik_target, monkeypatch: pytest.MonkeyPatch) -> Team:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    team = make_team(tmp_path, opik_target.project_name, deliver="branch")
    monkeypatch.setenv("PROMPT_SYNC_CONFIG", str(team.deployment.config_path))
    return team


def step_failure(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    """The asset whose step failed (its name within the instance), and what it said."""
    ((step, description),) = step_failures(result).items()
    return step, description


def test_the_pull_step_commits_to_the_days_branch_and_records_it(team: Team, opik_client, instance):
    assert run_job(instance).success
    optimize(opik_client, team.deployment, user=team.deployment.template(CHARTER_TASK) + OPTIMIZED)

    result = run_job(instance, tags={"prompt_sync/day": "20250101"})

    assert result.success
    branches = team.remote_branches()
    commit = branches["prompt-sync/2025-01-01"]  # the run's day names the branch
    pull = materializations(result)["local_individual_prompts"]
    assert pull["git_commit"] == commit
    assert pull["git_branch"] == "prompt-sync/2025-01-01"
    assert run_tags(instance, result.run_id)["prompt_sync/commit"] == commit
    event = next(
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["forseti", "local_individual_prompts"])
    )
    charter_hash = hashlib.sha256(team.deployment.charter_path.read_bytes()).hexdigest()
    assert event.tags["dagster/data_version"] == charter_hash
    # Committed before the pushes ran, and says so.
    message = git(team.remote, "log", "-1", "--format=%B", commit)
    assert "Counters (the pushes run after this commit):" in message
    assert "pull_changed=1 pull_failed=0" in message
    shown = json.loads(git(team.remote, "show", f"{commit}:{CHARTER}"))
    assert shown[CHARTER_TASK]["template"].endswith(OPTIMIZED)


def test_a_rejected_push_fails_the_run_after_every_step(team: Team, opik_client, instance):
    assert run_job(instance).success
    team.reject_pushes("protected")
    optimize(opik_client, team.deployment, user=team.deployment.template(CHARTER_TASK) + OPTIMIZED)

    result = run_job(instance)

    assert not result.success
    assert len(materializations(result)) == 4  # every step did its work
    step, description = step_failure(result)
    assert step == "pushed_composites"
    assert "git: could not push to origin prompt-sync/" in description
    tags = run_tags(instance, result.run_id)
    assert "prompt_sync/success_key" not in tags
    assert tags["prompt_sync/commit"] == git(team.deploy_dir, "rev-parse", "HEAD")


def test_a_diverged_checkout_fails_the_run_after_every_step(team: Team, opik_client, instance):
    assert run_job(instance).success
    (team.deploy_dir / "NOTES.md").write_text("local note\n")
    git(team.deploy_dir, "add", "NOTES.md")
    git(team.deploy_dir, "commit", "-qm", "A local commit")
    team.teammate_edit("forseti.wording_correction", "Fix the wording of {{text}}.")

    result = run_job(instance)

    assert not result.success
    assert len(materializations(result)) == 4
    step, description = step_failure(result)
    assert step == "pushed_composites"
    assert "git: can't fast-forward" in description
    assert f"git -C {team.deploy_dir} pull --rebase origin main" in description


def test_someones_charter_edit_fails_the_run_before_anything_is_read(
    team: Team, opik_target, instance
):
    assert run_job(instance).success
    team.deployment.edit(CHARTER_TASK, team.deployment.template(CHARTER_TASK) + " (hand edit)")
    opik_target.clear_requests()

    result = run_job(instance)

    assert not result.success
    assert materializations(result) == {}
    step, description = step_failure(result)
    assert step == "opik_composites"
    assert "has changes prompt-sync did not make" in description
    assert opik_target.requests() == []


def test_a_push_step_alone_starts_from_the_teammates_latest_charter(
    team: Team, opik_client, instance
):
    assert run_job(instance).success
    edited = team.deployment.template(CHARTER_TASK) + "\nCite the article."
    merged = team.teammate_edit(CHARTER_TASK, edited)

    result = run_job(instance, assets=["pushed_individuals"])

    assert result.success
    assert git(team.deploy_dir, "rev-parse", "HEAD") == merged  # fast-forwarded, no commit
    project = team.deployment.config.opik.project_name
    assert opik_client.get_prompt(CHARTER_TASK, project_name=project).prompt == edited


def test_use_git_false_leaves_the_checkout_alone(team: Team, opik_client, instance):
    merged = team.teammate_edit(CHARTER_TASK, "Teammate's {{charter}} {{post}}")
    before = git(team.deploy_dir, "rev-parse", "HEAD")

    result = run_job(
        instance, run_config={"resources": {"prompt_sync": {"config": {"use_git": False}}}}
    )

    assert result.success
    assert git(team.deploy_dir, "rev-parse", "HEAD") == before != merged
