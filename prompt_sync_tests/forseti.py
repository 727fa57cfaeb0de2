"""The forseti example set up in a temporary directory against the test's Opik target."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.sync.config import SyncConfig, load_config
from prompt_sync_pipeline.sync.engine import SyncEngine, run_sync
from prompt_sync_pipeline.sync.report import SyncReport
from prompt_sync_pipeline.sync.resolutions import Resolutions, parse

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "forseti"
PERSONA = "forseti.persona"
CHARTER_TASK = "forseti.charter_validation"
COMPOSITE = "forseti-persona-charter"
COMPOSITES = ("forseti-persona-charter", "forseti-persona-category", "forseti-persona-wording")
PROMPTS = (
    "forseti.persona",
    "forseti.charter_validation",
    "forseti.category_classification",
    "forseti.wording_correction",
)
# Tests don't wait seconds between retries.
FAST_RETRIES = {"attempts": 4, "initial_backoff_seconds": 0.01, "max_backoff_seconds": 0.05}


@dataclass
class Forseti:
    """A working copy of the example: its config file, its charter, and helpers to run syncs."""

    config_path: Path
    charter_path: Path

    @property
    def config(self) -> SyncConfig:
        return load_config(self.config_path)

    def charter(self) -> dict[str, Any]:
        return json.loads(self.charter_path.read_text(encoding="utf-8"))

    def template(self, name: str) -> str:
        return self.charter()[name]["template"]

    def edit(self, name: str, template: str) -> None:
        document = self.charter()
        document[name]["template"] = template
        self.charter_path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

    def configure(self, **changes: Any) -> None:
        raw = yaml.safe_load(self.config_path.read_text())
        for key, value in changes.items():
            if key in ("pull_environment", "max_concurrency"):
                raw["opik"][key] = value
            else:
                raw[key] = value
        self.config_path.write_text(yaml.safe_dump(raw, sort_keys=False))

    def messages(self, system: str | None = None, user: str | None = None) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": system or self.template(PERSONA)},
            {"role": "user", "content": user or self.template(CHARTER_TASK)},
        ]

    def engine(self, *, dry_run: bool = False) -> tuple[SyncEngine, OpikProject]:
        config = self.config
        project = OpikProject.connect(config.opik)
        return SyncEngine(config, project, dry_run=dry_run), project

    def sync(
        self,
        *,
        pull: bool = True,
        push: bool = True,
        dry_run: bool = False,
        keep: dict[str, str] | None = None,
        **kw: Any,
    ) -> SyncReport:
        """A run, with ``keep`` as the CLI's flags would give it: name -> charter | opik."""
        config = self.config
        choices = resolutions(config, keep or {})
        return run_sync(config, pull=pull, push=push, dry_run=dry_run, keep=choices, **kw)


def resolutions(config: SyncConfig, keep: dict[str, str]) -> Resolutions:
    """``{name: "charter" | "opik"}`` as ``--keep-charter`` / ``--keep-opik`` would give it."""
    return parse(
        config,
        charter=[name for name, side in keep.items() if side == "charter"],
        opik=[name for name, side in keep.items() if side == "opik"],
    )


def make_forseti(directory: Path, project_name: str) -> Forseti:
    shutil.copy(EXAMPLE / "forseti_charter.json", directory / "forseti_charter.json")
    raw = yaml.safe_load((EXAMPLE / "prompt_sync.yaml").read_text())
    raw["opik"]["project_name"] = project_name
    raw["opik"]["retries"] = FAST_RETRIES
    raw["lock_timeout_seconds"] = 5
    config_path = directory / "prompt_sync.yaml"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return Forseti(config_path, directory / "forseti_charter.json")


def optimize(client, forseti: Forseti, composite: str = COMPOSITE, **parts: str) -> None:
    """Someone saves a new composite version in Opik (the optimizer's output, saved by hand)."""
    client.create_chat_prompt(
        name=composite,
        messages=forseti.messages(parts.get("system"), parts.get("user")),
        project_name=forseti.config.opik.project_name,
    )


def chat_versions(client, forseti: Forseti, name: str):
    return client.get_chat_prompt_history(name=name, project_name=forseti.config.opik.project_name)


def latest_messages(client, forseti: Forseti, name: str):
    prompt = client.get_chat_prompt(name=name, project_name=forseti.config.opik.project_name)
    return prompt.template


def run_main(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """``prompt-sync ARGV`` in this process: exit code, stdout, stderr."""
    from prompt_sync_pipeline.cli import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_cli(capsys: Any, forseti: Forseti, *argv: str) -> tuple[int, str, str]:
    """``prompt-sync --config <forseti's> ARGV`` in this process: exit code, stdout, stderr."""
    return run_main(capsys, "--config", str(forseti.config_path), *argv)
