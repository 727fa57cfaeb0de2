"""``dg scaffold defs prompt_sync_pipeline.PromptSyncComponent NAME [--config PATH]``.

Without ``--config`` it writes ``defs/NAME/defs.yaml`` plus a starter configuration
(``prompt_sync.yaml``) and charter (``NAME_charter.json``) in that folder, which ``dg check defs``
accepts as they are: one persona, one task prompt, one composite of the two, in the Opik project
NAME. With ``--config PATH`` the instance points at an existing configuration instead (the path
is written relative to the instance's folder when it is inside the project).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
from dagster.components.component_scaffolding import scaffold_component
from pydantic import BaseModel, Field

CONFIG_FILE = "prompt_sync.yaml"

STARTER_CONFIG = """\
# prompt-sync configuration of the {name} instance, the file the prompt-sync CLI reads too:
#   prompt-sync --config {config} plan
# See prompt-sync's README, "Configuration".

# The prompts: a JSON file in git, relative to this file.
charter: {charter}
opik:
  # The Opik project that holds the prompts.
  project_name: {project}
  # Opik Cloud's limit per user; null for a self-hosted Opik.
  max_requests_per_minute: 2000
# Who wins when a prompt differs and no sync ever recorded a base: conflict, charter or opik.
first_contact: conflict
# The schedule's midnight (schedule.timezone in defs.yaml wins).
schedule_timezone: UTC
# Each composite chat prompt: a system message and a user message, both prompts of the charter.
composites:
  {project}-assistant: {{system_prompt: {name}.persona, user_prompt: {name}.task}}
"""

STARTER_CHARTER = {
    "{name}.persona": {
        "template": "You are {name}'s assistant. Answer precisely and kindly.",
        "type": "mustache",
        "description": "The persona: the system message of every composite.",
    },
    "{name}.task": {
        "template": "Answer the question below.\n\n{{{{question}}}}",
        "type": "mustache",
        "description": "The task: the user message.",
    },
}


class PromptSyncScaffoldParams(BaseModel):
    config: str | None = Field(
        default=None,
        description="An existing prompt_sync.yaml for this instance; without it, a starter "
        "configuration and charter are written in the instance's folder.",
    )


class PromptSyncScaffolder(dg.Scaffolder[PromptSyncScaffoldParams]):
    @classmethod
    def get_scaffold_params(cls) -> type[PromptSyncScaffoldParams]:
        return PromptSyncScaffoldParams

    def scaffold(self, request: dg.ScaffoldRequest[PromptSyncScaffoldParams]) -> None:
        folder = request.target_path
        if request.params.config:
            config = _relative_to(
                Path(request.params.config).expanduser().resolve(), folder, request.project_root
            )
        else:
            config = CONFIG_FILE
            write_starter(folder, folder.name, request.project_root)
        scaffold_component(request, {"config": config})


def write_starter(folder: Path, name: str, project_root: Path | None = None) -> None:
    """A configuration and a charter that load as they are, named after the instance."""
    charter = f"{name}_charter.json"
    project = name.replace("_", "-")
    config_path = folder / CONFIG_FILE
    shown = os.path.relpath(config_path, project_root) if project_root else str(config_path)
    (folder / CONFIG_FILE).write_text(
        STARTER_CONFIG.format(name=name, charter=charter, project=project, config=shown),
        encoding="utf-8",
    )
    prompts = {
        key.format(name=name): {field: text.format(name=name) for field, text in prompt.items()}
        for key, prompt in STARTER_CHARTER.items()
    }
    (folder / charter).write_text(
        json.dumps(prompts, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def _relative_to(path: Path, folder: Path, project_root: Path | None) -> str:
    """``path`` as seen from the instance's folder when it is inside the project, else absolute
    (a configuration elsewhere on the machine)."""
    root = (project_root or folder).resolve()
    if path.is_relative_to(root):
        return os.path.relpath(path, folder.resolve())
    return str(path)
