"""The main job on embedded defaults: ``python -m prompt_sync_pipeline.demo`` (``./scripts/demo``).

1. copies the forseti example into ``.demo/`` (the repo's example is never modified);
2. starts the Opik emulator on port 5173 (another free port, printed, when that one is taken),
   persisted in ``.demo/opik.sqlite``;
3. seeds it: a first sync, then one composite version "optimized" outside the tool (a new
   ``forseti-persona-charter`` with a changed user prompt, made with the plain Opik SDK);
4. runs ``forseti_prompt_sync_job`` (the repository's one instance, pointed at ``.demo/`` by
   ``PROMPT_SYNC_CONFIG``) once in the local Dagster instance ``.dagster_home/``, exactly as
   ``prompt-sync run-now`` does, and prints the run's counters (``pull_changed=1``);
5. says how to open the Dagster UI on that instance, and its address.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from opik_emulator import EmulatorServer

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "forseti"
DEMO = REPO / ".demo"
DAGSTER_HOME = REPO / ".dagster_home"
WORKSPACE = "demo"
# A fixed port keeps the printed UI command valid from one demo to the next.
EMULATOR_PORT = 5173
UI_HOST, UI_PORT = "127.0.0.1", 3000
OPTIMIZED_COMPOSITE = "forseti-persona-charter"
OPTIMIZATION = "\nKeep the explanation to one sentence a member can act on."


def prepare_working_copy() -> Path:
    """A fresh copy of the example under .demo/, its Opik project named for the demo."""
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    shutil.copy(EXAMPLE / "forseti_charter.json", DEMO / "forseti_charter.json")
    config = yaml.safe_load((EXAMPLE / "prompt_sync.yaml").read_text(encoding="utf-8"))
    config["opik"]["project_name"] = "forseti-demo"
    config_path = DEMO / "prompt_sync.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config_path


def prepare_dagster_home() -> None:
    DAGSTER_HOME.mkdir(exist_ok=True)
    settings = DAGSTER_HOME / "dagster.yaml"
    if not settings.exists():
        settings.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")


def start_emulator(database: Path, port: int = EMULATOR_PORT) -> EmulatorServer:
    """The emulator on ``port``, or on a free port (said so) when something else holds it."""
    from opik_emulator import EmulatorServer

    try:
        return EmulatorServer(database, port=port).start()
    except OSError as exc:
        server = EmulatorServer(database).start()
        print(f"Port {port} is taken ({exc.strerror}); the emulator uses port {server.port}.")
        return server


def seed(config_path: Path, opik_url: str) -> None:
    """What the team's Opik would hold: the synced example, then one optimized composite."""
    import opik

    from prompt_sync_pipeline.sync.config import load_config
    from prompt_sync_pipeline.sync.engine import run_sync

    config = load_config(config_path)
    report = run_sync(config)
    if report.failed:
        raise SystemExit(f"demo: seeding the emulator failed: {report.summary_line()}")
    charter = yaml.safe_load(config.charter.read_text(encoding="utf-8"))  # JSON is YAML
    spec = config.composites[OPTIMIZED_COMPOSITE]
    client = opik.Opik(host=opik_url, workspace=WORKSPACE, project_name=config.opik.project_name)
    try:
        client.create_chat_prompt(
            name=OPTIMIZED_COMPOSITE,
            messages=[
                {"role": "system", "content": charter[spec.system_prompt]["template"]},
                {"role": "user", "content": charter[spec.user_prompt]["template"] + OPTIMIZATION},
            ],
            project_name=config.opik.project_name,
            change_description="optimized in Opik",
        )
    finally:
        client.end()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port",
        type=int,
        default=EMULATOR_PORT,
        help=f"the emulator's port (default {EMULATOR_PORT}; a free one if it is taken)",
    )
    parser.add_argument(
        "--keep-emulator",
        action="store_true",
        help="keep the emulator running after the run (Ctrl-C to stop), to run again from the UI",
    )
    args = parser.parse_args(argv)

    config_path = prepare_working_copy()
    prepare_dagster_home()
    server = start_emulator(DEMO / "opik.sqlite", args.port)
    env = {
        "OPIK_URL_OVERRIDE": server.url,
        "OPIK_WORKSPACE": WORKSPACE,
        # The demo talks to the local emulator only: no analytics, no ~/.opik.config.
        "OPIK_ANALYTICS_ENABLE": "false",
        "OPIK_SENTRY_ENABLE": "false",
        "OPIK_TRACK_DISABLE": "true",
        "PROMPT_SYNC_CONFIG": str(config_path),
        "DAGSTER_HOME": str(DAGSTER_HOME),
    }
    os.environ.update(env)
    try:
        print(f"Opik emulator on {server.url} (database {DEMO / 'opik.sqlite'})")
        seed(config_path, server.url)
        print(f"Seeded: forseti synced, then {OPTIMIZED_COMPOSITE} optimized in Opik.\n")

        from prompt_sync_pipeline.run_now import launch_prompt_sync_job

        status = launch_prompt_sync_job(config_path=config_path)
        print(f"\nThe charter after the pull: {config_path.parent / 'forseti_charter.json'}")
        print_ui_instructions(env, server.port, kept=args.keep_emulator)
        if args.keep_emulator and status == 0:
            print("\nThe emulator keeps running; Ctrl-C to stop it.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return status
    finally:
        server.stop()


def ui_command(env: dict[str, str]) -> str:
    """The command that opens the Dagster UI on the demo's instance: ``dagster dev`` from this
    virtualenv (the base install has it; ``dg`` comes with the dev extra only), on the
    repository's workspace, with the demo's variables."""
    variables = " ".join(
        f"{name}={shlex.quote(value)}"
        for name, value in env.items()
        if name in ("DAGSTER_HOME", "PROMPT_SYNC_CONFIG", "OPIK_URL_OVERRIDE", "OPIK_WORKSPACE")
    )
    dagster = Path(sys.executable).parent / "dagster"
    workspace = REPO / "workspace.yaml"
    return (
        f"{variables} {shlex.quote(str(dagster))} dev -w {shlex.quote(str(workspace))} "
        f"-h {UI_HOST} -p {UI_PORT}"
    )


def print_ui_instructions(env: dict[str, str], port: int, *, kept: bool) -> None:
    print("\nOpen the Dagster UI on this instance (the run, its assets, checks and tags):")
    print(f"  {ui_command(env)}")
    print(f"then browse to http://{UI_HOST}:{UI_PORT}")
    if not kept:
        print(
            "To launch runs from the UI too, keep an emulator on that address in another "
            f"terminal:\n  {shlex.quote(str(Path(sys.executable).parent / 'opik-emulator'))} "
            f"--port {port} --db {shlex.quote(str(DEMO / 'opik.sqlite'))}"
        )


if __name__ == "__main__":
    sys.exit(main())
