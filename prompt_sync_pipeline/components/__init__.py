"""prompt-sync as a Dagster component: one charter per instance, many instances per project.

Modules, in reading order:
- ``component``: ``PromptSyncComponent``, its attributes (``defs.yaml``), and its scaffolder
  (``scaffold``).
- ``instance``: one charter's names (asset keys, group, jobs, schedule, sensor) and its checked
  configuration.
- ``build``: an instance's definitions, from the modules below.
- ``resources``: the Opik connection, the run's options, and one run's ``SyncSession``.
- ``assets``: the four assets of the sync, one lineage chain.
- ``checks``: the persona-drift checks, evaluated inside the assets they guard.
- ``failures``: a step fails with the CLI's message, whole (``dg.Failure``).
- ``opik_outage``: when a step fails instead of materializing (Opik not reached at all).
- ``summaries``: counters and markdown summaries attached to materializations.
- ``run_tags``: the run key, the success key, the instance and the counters as run tags.
- ``schedules``: the sync job and the daily schedule.
- ``resolve``: the resolve job (``keep_opik`` / ``keep_charter`` as run config).
- ``sensors``: the sensor for new Opik versions and the pull-only job it starts.
- ``release``: the ``promote`` and ``rollback`` ops, each in its own job.
- ``production_check``: ``production_not_behind`` and the job that runs it.
- ``performance``: the performance view, on demand.
"""

from .component import PromptSyncComponent

__all__ = ["PromptSyncComponent"]
