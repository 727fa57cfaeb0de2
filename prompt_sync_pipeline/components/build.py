"""One instance's definitions: its assets, checks, jobs, schedule and sensor, all under its name."""

from __future__ import annotations

import dagster as dg

from . import assets, performance, production_check, release, resolve, schedules, sensors
from .instance import Instance
from .resources import shared_resources


def build_instance_defs(instance: Instance) -> dg.Definitions:
    chain = assets.build_chain(instance)
    sync_job = schedules.build_sync_job(instance)
    pull_job = sensors.build_pull_job(instance)
    check = production_check.build_check(instance)
    promote_job, rollback_job = release.build_jobs(instance)
    return dg.Definitions(
        assets=[*chain, performance.build_asset(instance)],
        asset_checks=[check],
        jobs=[
            sync_job,
            pull_job,
            resolve.build_job(instance),
            promote_job,
            rollback_job,
            production_check.build_job(instance),
        ],
        schedules=[schedules.build_daily_schedule(instance, sync_job)],
        sensors=[
            sensors.build_sensor(
                instance, pull_job=pull_job, sync_job=sync_job, promote_job=promote_job
            )
        ],
        # The same objects for every instance, so the instances of a project merge. The
        # in-process executor also serves ad-hoc materializations from the UI (the implicit
        # asset job): one process, so a run's steps share its session (one read of Opik).
        executor=dg.in_process_executor,
        resources=shared_resources(),
    )
