"""The stateful model of the sync (prompt_sync_tests/model.py), run long: many more examples and
steps than CI's bounded run, random (not derandomized), against an in-process Opik emulator.

    python benchmarks/model_check.py [--examples 300] [--steps 25]

Prints the steps run by kind, the promises checked, the runs by outcome and fault, wall time,
and the failures found (hypothesis shrinks the first one and prints its steps).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--steps", type=int, default=25)
    args = parser.parse_args()

    config_fd, config_path = tempfile.mkstemp(suffix=".opik.config")
    os.write(config_fd, b"[opik]\n")
    os.close(config_fd)
    workspace = "model-check"
    os.environ.update(
        OPIK_CONFIG_PATH=config_path,
        OPIK_ANALYTICS_ENABLE="false",
        OPIK_SENTRY_ENABLE="false",
        OPIK_TRACK_DISABLE="true",
        OPIK_WORKSPACE=workspace,
    )
    os.environ.pop("OPIK_API_KEY", None)

    import logging

    import opik
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from opik_emulator import EmulatorServer
    from prompt_sync_tests.model import Figures, World, model_for

    logging.getLogger("prompt_sync_pipeline").setLevel(logging.ERROR)  # retries are expected
    figures = Figures()
    failures: list[str] = []
    started = time.perf_counter()
    with EmulatorServer() as server:
        os.environ["OPIK_URL_OVERRIDE"] = server.url
        client = opik.Opik(host=server.url, workspace=workspace, project_name="model-check")
        world = World(server.url, workspace, server.control, client)
        long_run = settings(
            max_examples=args.examples,
            stateful_step_count=args.steps,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        try:
            run_state_machine_as_test(model_for(world, figures), settings=long_run)
        except Exception:  # the shrunk counterexample, printed below
            failures.append(traceback.format_exc())
        client.end()
    elapsed = time.perf_counter() - started
    os.remove(config_path)

    print(f"model check: {args.examples} examples of up to {args.steps} steps, {elapsed:.1f} s")
    print(f"steps run: {sum(figures.steps.values())}")
    for name, count in figures.steps.most_common():
        print(f"  {name:28} {count}")
    print(f"invariants checked: {sum(figures.checks.values())}")
    for name, count in figures.checks.most_common():
        print(f"  {name:34} {count}")
    print("runs:")
    for name, count in sorted(figures.runs.items()):
        print(f"  {name:28} {count}")
    print(f"failures found: {len(failures)}")
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
