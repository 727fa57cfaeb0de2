"""The emulator's tables, in one SQLite database shared by every resource.

One row per backend entity, keyed like the backend's (UUIDv7 ids; ``workspace`` is the
``Comet-Workspace`` name). JSON columns hold what the emulator only stores and gives back.
Every statement is ``IF NOT EXISTS``, so a database file written by an older emulator opens
as it is and gains the indexes added since.
"""

from __future__ import annotations

# Projects, prompts, prompt versions and environments.
PROMPT_LIBRARY = """
CREATE TABLE IF NOT EXISTS workspaces (
    name TEXT PRIMARY KEY,
    environments_seeded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    visibility TEXT NOT NULL DEFAULT 'private',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_updated_at TEXT NOT NULL,
    last_updated_by TEXT NOT NULL,
    UNIQUE (workspace, name)
);
CREATE TABLE IF NOT EXISTS prompts (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    template_structure TEXT NOT NULL,
    tags TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_updated_at TEXT NOT NULL,
    last_updated_by TEXT NOT NULL
);
-- Names are unique per (workspace, project); workspace-level prompts share the '' project.
CREATE UNIQUE INDEX IF NOT EXISTS prompts_by_name
    ON prompts (workspace, IFNULL(project_id, ''), name);
-- A project's listing in Opik's default order (newest first), a page without sorting them all.
CREATE INDEX IF NOT EXISTS prompts_by_project ON prompts (workspace, project_id, id);
-- A name looked up in every project of the workspace (the backend's fallback).
CREATE INDEX IF NOT EXISTS prompts_by_workspace_name ON prompts (workspace, name);
CREATE TABLE IF NOT EXISTS prompt_versions (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    commit_hash TEXT NOT NULL,
    version_number INTEGER,
    template TEXT NOT NULL,
    metadata TEXT,
    type TEXT NOT NULL,
    version_type TEXT NOT NULL,
    change_description TEXT,
    tags TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    UNIQUE (prompt_id, commit_hash),
    UNIQUE (prompt_id, version_number)
);
CREATE INDEX IF NOT EXISTS prompt_versions_by_commit ON prompt_versions (workspace, commit_hash);
CREATE TABLE IF NOT EXISTS environments (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    color TEXT,
    position INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_updated_at TEXT NOT NULL,
    last_updated_by TEXT NOT NULL,
    UNIQUE (workspace, name)
);
-- One owner per (prompt, environment): the primary key is what makes ownership move.
CREATE TABLE IF NOT EXISTS version_environments (
    prompt_id TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    version_id TEXT NOT NULL REFERENCES prompt_versions (id) ON DELETE CASCADE,
    PRIMARY KEY (prompt_id, environment_id)
);
CREATE INDEX IF NOT EXISTS version_environments_by_version
    ON version_environments (version_id);
"""

# Datasets, traces, spans, feedback scores and experiments.
EVALUATION = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    project_id TEXT,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL,
    tags TEXT,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_updated_at TEXT NOT NULL,
    last_updated_by TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS datasets_by_name ON datasets (workspace, name);
CREATE TABLE IF NOT EXISTS dataset_items (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    dataset_id TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dataset_items_by_dataset ON dataset_items (dataset_id, id);
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    project_id TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    trace_id TEXT,
    project_id TEXT,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
-- One score per (entity, name, author): a new value from the same author replaces the old.
CREATE TABLE IF NOT EXISTS feedback_scores (
    workspace TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    name TEXT NOT NULL,
    author TEXT NOT NULL,
    value REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (workspace, entity_type, entity_id, name, author)
);
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    dataset_id TEXT NOT NULL,
    project_id TEXT,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS experiment_prompt_versions (
    experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    prompt_version_id TEXT NOT NULL,
    PRIMARY KEY (experiment_id, prompt_version_id)
);
CREATE TABLE IF NOT EXISTS experiment_items (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
    dataset_item_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS experiment_items_by_experiment ON experiment_items (experiment_id);
-- Experiments by name (the items stream), items by dataset item (the compare view).
CREATE INDEX IF NOT EXISTS experiments_by_name ON experiments (workspace, name);
CREATE INDEX IF NOT EXISTS experiment_items_by_dataset_item
    ON experiment_items (dataset_item_id);
"""

SCHEMA = PROMPT_LIBRARY + EVALUATION
