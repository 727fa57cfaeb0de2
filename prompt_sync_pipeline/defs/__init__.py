"""The Dagster code location of prompt-sync: Dagster orchestrates, ``prompt_sync_pipeline.sync`` works.

Modules, in reading order:
- ``resources``: the Opik connection, the sync configuration, and one run's ``SyncSession``.
- ``assets``: the four assets of the sync, one lineage chain.
- ``checks``: the persona-drift checks, evaluated inside the assets they guard.
- ``opik_outage``: when a step fails instead of materializing (Opik not reached at all).
- ``summaries``: counters and markdown summaries attached to materializations.
- ``run_tags``: the run key, the success key and the counters as run tags.
- ``schedules``: ``prompt_sync_job`` and the daily schedule.
- ``sensors``: ``opik_prompt_changes`` and the pull-only job it starts.
- ``release``: the ``promote`` and ``rollback`` ops, each in its own job.
- ``production_check``: ``production_not_behind`` and the job that runs it.
"""
