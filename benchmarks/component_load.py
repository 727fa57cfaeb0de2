"""How long a team's code location takes to load with 1, 10 and 50 prompt-sync instances.

Builds a ``dg`` project laid out as ``create-dagster project`` lays it out, with N instances of
``prompt_sync_pipeline.PromptSyncComponent`` (each its own configuration and charter of 20
composites over 21 prompts), then, side by side:

- the code location's load, in a fresh process as a code server does it: importing the project's
  ``definitions`` module (Dagster, prompt-sync) and building its definitions, including the
  repository (every job resolved); each measured apart;
- ``dg list defs`` on the project, wall clock;
- the requests an Opik emulator (``OPIK_URL_OVERRIDE``) received during the load, and whether the
  Opik SDK was imported: loading must do neither.

    python benchmarks/component_load.py [--instances 1 10 50] [--composites 20] [--repeat 3]

Goal: 50 instances build in under 2 s, without a request to Opik.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
PACKAGE = "team_prompts"

PYPROJECT = f"""\
[project]
name = "{PACKAGE}"
requires-python = ">=3.10,<3.15"
version = "0.1.0"
dependencies = ["prompt-sync"]

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "{PACKAGE}"
registry_modules = ["{PACKAGE}.components.*"]
"""

DEFINITIONS = """\
from pathlib import Path

from dagster import definitions, load_from_defs_folder


@definitions
def defs():
    return load_from_defs_folder(path_within_project=Path(__file__).parent)
"""

# In a fresh interpreter: the import, then the build (what the code server does before it
# serves the location), then what was imported.
LOAD = """
import json, sys, time
started = time.perf_counter()
from {package}.definitions import defs
imported = time.perf_counter()
repository = defs().get_repository_def()
built = time.perf_counter()
print(json.dumps({{
    "import": imported - started,
    "build": built - imported,
    "assets": len(repository.asset_graph.get_all_asset_keys()),
    "jobs": len([j for j in repository.get_all_jobs() if not j.name.startswith("__")]),
    "opik_imported": any(m.split(".")[0] == "opik" for m in sys.modules),
}}))
"""


def write_project(root: Path, instances: int, composites: int) -> None:
    src = root / "src" / PACKAGE
    (src / "defs").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (src / "__init__.py").write_text("")
    (src / "defs" / "__init__.py").write_text("")
    (src / "definitions.py").write_text(DEFINITIONS)
    for i in range(instances):
        name = f"charter_{i:02d}"
        folder = src / "defs" / name
        folder.mkdir()
        (folder / "defs.yaml").write_text(
            "type: prompt_sync_pipeline.PromptSyncComponent\nattributes:\n  config: prompt_sync.yaml\n"
        )
        charter = {f"{name}.persona": {"template": f"You are {name}.", "type": "mustache"}}
        table = {}
        for c in range(composites):
            task = f"{name}.task_{c:02d}"
            charter[task] = {"template": f"Task {c}: {{{{input}}}}", "type": "mustache"}
            table[f"{name}-c{c:02d}"] = {"system_prompt": f"{name}.persona", "user_prompt": task}
        (folder / "charter.json").write_text(json.dumps(charter, indent=2) + "\n")
        config = {"charter": "charter.json", "opik": {"project_name": name}, "composites": table}
        (folder / "prompt_sync.yaml").write_text(
            json.dumps(config, indent=2) + "\n"
        )  # JSON is YAML


def environment(root: Path, home: Path, opik_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(root / "src"),  # the team's package, as an editable install has it
        "VIRTUAL_ENV": str(VENV_BIN.parent),
        "DAGSTER_HOME": str(home),
        "DAGSTER_DG_UPDATE_CHECK_ENABLED": "0",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "OPIK_URL_OVERRIDE": opik_url,
        "OPIK_WORKSPACE": "benchmark",
    }


def load_once(root: Path, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", LOAD.format(package=PACKAGE)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def dg_list_defs(root: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(VENV_BIN / "dg"), "list", "defs", "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--composites", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from opik_emulator import EmulatorServer

    print(
        f"{'instances':>9} {'composites':>10} {'assets':>6} {'jobs':>5} {'import':>8} "
        f"{'build':>8} {'dg list defs':>13} {'Opik requests':>14} {'SDK imported':>13}"
    )
    with EmulatorServer() as server:
        for count in args.instances:
            with tempfile.TemporaryDirectory() as tmp:
                root, home = Path(tmp) / PACKAGE, Path(tmp) / "home"
                home.mkdir()
                (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
                write_project(root, count, args.composites)
                env = environment(root, home, server.url)
                server.control.clear_requests()
                loads = [load_once(root, env) for _ in range(args.repeat)]
                listed = [dg_list_defs(root, env) for _ in range(args.repeat)]
                requests = len(server.control.requests())
            first = loads[0]
            imported = statistics.median(run["import"] for run in loads)
            built = statistics.median(run["build"] for run in loads)
            sdk = any(run["opik_imported"] for run in loads)
            print(
                f"{count:>9} {count * args.composites:>10} {first['assets']:>6} "
                f"{first['jobs']:>5} {imported:>7.2f}s {built:>7.2f}s "
                f"{statistics.median(listed):>12.2f}s {requests:>14} {sdk!s:>13}"
            )


if __name__ == "__main__":
    main()
