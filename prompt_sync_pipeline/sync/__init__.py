"""The sync: plain Python that both the Dagster assets and the CLI call.

Modules, in reading order:
- ``config``: the team's YAML configuration (charter path, Opik project, composite table).
- ``charter``: the JSON charter file in git (load, validate, atomic diff-friendly write, lock).
- ``composites``: how a composite chat prompt is built from, and split back into, its parts.
- ``decide``: the three-way decision, as pure functions (the contract's table).
- ``state``, ``run_state``: the sync state file beside the charter, and one run's view of it.
- ``bases``: each composite's last agreement; ``races``: write races.
- ``pull``, ``push``: the steps; ``workers``: the pool they share.
- ``engine``: the facade the CLI and Dagster hold (``run_sync``, ``SyncEngine``).
- ``report``: what a run did; ``messages``: every remedy it prints; ``formatting``: labels, diffs.
"""
