"""The prompt-sync code location: ``dg dev`` (or ``workspace.yaml``) loads ``defs`` from here.

Loading it never imports the Opik SDK (the runs do) and never needs the configuration file:
the configuration and the Opik settings are resolved when a run starts.
"""

import dagster as dg

from prompt_sync_pipeline.defs import assets, performance
from prompt_sync_pipeline.defs.production_check import production_check_job, production_not_behind
from prompt_sync_pipeline.defs.release import prompt_promote_job, prompt_rollback_job
from prompt_sync_pipeline.defs.resources import (
    OpikResource,
    PromptSyncResource,
    env_var_if_set,
)
from prompt_sync_pipeline.defs.schedules import prompt_sync_daily, prompt_sync_job
from prompt_sync_pipeline.defs.sensors import opik_prompt_changes, prompt_sync_pull_job
from prompt_sync_pipeline.opik.settings import OPIK_API_KEY_VAR, OPIK_URL_VAR, OPIK_WORKSPACE_VAR
from prompt_sync_pipeline.sync.config import CONFIG_ENV_VAR

opik = OpikResource(
    url=env_var_if_set(OPIK_URL_VAR),
    workspace=env_var_if_set(OPIK_WORKSPACE_VAR),
    api_key=env_var_if_set(OPIK_API_KEY_VAR),
)

defs = dg.Definitions(
    # The performance view is its own group, on demand: not part of the midnight job.
    assets=dg.load_assets_from_modules([assets, performance]),
    jobs=[
        prompt_sync_job,
        prompt_sync_pull_job,
        prompt_promote_job,
        prompt_rollback_job,
        production_check_job,
    ],
    schedules=[prompt_sync_daily],
    # production_not_behind runs in its own job; the sensor pulls new Opik versions in the day.
    asset_checks=[production_not_behind],
    sensors=[opik_prompt_changes],
    # Also for ad-hoc materializations from the UI (the implicit asset job): one process, so a
    # run's steps share its session (one read of Opik); the chain is sequential anyway.
    executor=dg.in_process_executor,
    resources={
        "opik": opik,
        "prompt_sync": PromptSyncResource(opik=opik, config_path=env_var_if_set(CONFIG_ENV_VAR)),
    },
)
