"""The prompt-sync code location: ``dg dev`` (or ``workspace.yaml``) loads ``defs`` from here.

A ``dg`` project of the shape ``create-dagster project`` lays out: every folder of ``defs/`` is a
``PromptSyncComponent`` instance (this repository has one, ``forseti``). Loading reads each
instance's configuration and charter and refuses an invalid one; it never talks to Opik and
never imports the Opik SDK.
"""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
