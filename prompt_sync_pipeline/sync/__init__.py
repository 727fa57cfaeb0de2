"""The sync engine: plain Python that both the Dagster assets and the CLI call.

Modules, in reading order:
- ``config``: the team's YAML configuration (charter path, Opik project, composite table).
- ``charter``: the JSON charter file in git (load, validate, atomic diff-friendly write, lock).
- ``composites``: how a composite chat prompt is built from, and split back into, its parts.
- ``opik_gateway``: the one module that talks to Opik.
- ``engine``: the three-way pull and the two pushes.
- ``report``: what a run did (the six counters, the breakdown, the plan's diffs).
"""
