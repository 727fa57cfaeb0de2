"""A team's own Dagster project, as ``create-dagster project`` lays it out (the real command), with
prompt-sync installed in its environment (this virtualenv, which ``VIRTUAL_ENV`` activates for
``dg``) and charters scaffolded into it by the real ``dg scaffold defs``.

A pytest plugin (``conftest.py`` loads it): ``team_project`` is such a project with two
instances, ``support_bot`` (the scaffolded starter charter) and ``forseti`` (the worked example,
kept in the project's ``prompts/`` folder and scaffolded with ``--config``), each on an Opik
project of its own in this test's workspace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from prompt_sync_tests.forseti import FAST_RETRIES, Forseti, make_forseti
from prompt_sync_tests.opik_target import OpikTarget

VENV = Path(sys.executable).parent.parent
BIN = VENV / "bin"
PACKAGE = "team_prompts"
COMPONENT = "prompt_sync_pipeline.PromptSyncComponent"


@dataclass
class TeamProject:
    root: Path
    env: dict[str, str]
    home: Path  # DAGSTER_HOME

    @property
    def defs_folder(self) -> Path:
        return self.root / "src" / PACKAGE / "defs"

    def dg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``dg ARGS`` in the project, as a developer of the team runs it."""
        done = subprocess.run(
            [str(BIN / "dg"), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"dg {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def launch(self, job: str) -> subprocess.Popen[str]:
        """``dg launch --job JOB``, started (the caller waits for it)."""
        return subprocess.Popen(
            [str(BIN / "dg"), "launch", "--job", job],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def scaffold(self, name: str, *options: str) -> Path:
        self.dg("scaffold", "defs", COMPONENT, name, *options)
        return self.defs_folder / name

    def defs_yaml(self, name: str) -> dict[str, Any]:
        return yaml.safe_load((self.defs_folder / name / "defs.yaml").read_text())

    def list_defs(self) -> dict[str, Any]:
        return json.loads(self.dg("list", "defs", "--json").stdout)


@dataclass
class TwoCharters:
    """The team's project with its two instances."""

    project: TeamProject
    support_bot: Forseti  # the starter's configuration and charter (same helpers as forseti's)
    forseti: Forseti


def create_project(directory: Path, env: dict[str, str]) -> TeamProject:
    subprocess.run(
        [str(BIN / "create-dagster"), "project", PACKAGE, "--no-uv-sync"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    root = directory / PACKAGE
    home = directory / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **env,
        "DAGSTER_HOME": str(home),
        # The team's package importable, as `uv sync` (an editable install) leaves it: `dg list
        # defs` and `dg launch` import it by name.
        "PYTHONPATH": str(root / "src"),
    }
    return TeamProject(root, env, home)


def team_environment(opik_target: OpikTarget) -> dict[str, str]:
    """The team's shell: prompt-sync's virtualenv active, Opik's variables, no update check."""
    env = {k: v for k, v in os.environ.items() if k not in ("PROMPT_SYNC_CONFIG", "DAGSTER_HOME")}
    return {
        **env,
        **opik_target.env,
        "VIRTUAL_ENV": str(VENV),
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        "DAGSTER_DG_UPDATE_CHECK_ENABLED": "0",  # create-dagster and dg: no PyPI lookup
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def use_test_project(config_path: Path, project_name: str) -> None:
    """Point a scaffolded configuration at this test's Opik project, with quick retries."""
    raw = yaml.safe_load(config_path.read_text())
    raw["opik"]["project_name"] = project_name
    raw["opik"]["retries"] = FAST_RETRIES
    raw["lock_timeout_seconds"] = 5
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))


@pytest.fixture
def team_project(tmp_path: Path, opik_target: OpikTarget) -> TwoCharters:
    project = create_project(tmp_path, team_environment(opik_target))
    support = project.scaffold("support_bot")
    use_test_project(support / "prompt_sync.yaml", f"{opik_target.project_name}-support")
    prompts = project.root / "prompts" / "forseti"
    prompts.mkdir(parents=True)
    forseti = make_forseti(prompts, f"{opik_target.project_name}-forseti")
    project.scaffold("forseti", "--config", "prompts/forseti/prompt_sync.yaml")
    support_bot = Forseti(support / "prompt_sync.yaml", support / "support_bot_charter.json")
    return TwoCharters(project, support_bot, forseti)
