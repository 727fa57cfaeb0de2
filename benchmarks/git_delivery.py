"""What git delivery adds to a run: a no-op ``prompt-sync sync`` with and without ``--no-git``,
and git's own part (update before, deliver after) alone.

A bare remote and the deployment's clone in a temp dir (``deliver: branch``), the Opik emulator
in a thread, the CLI in process. Not a test; run it by hand:

    python benchmarks/git_delivery.py [--runs 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.update(
    {"OPIK_ANALYTICS_ENABLE": "false", "OPIK_SENTRY_ENABLE": "false", "OPIK_TRACK_DISABLE": "true"}
)

from opik_emulator import EmulatorServer  # noqa: E402
from prompt_sync_pipeline.cli import main  # noqa: E402
from prompt_sync_pipeline.delivery import start_git_run  # noqa: E402
from prompt_sync_pipeline.sync.config import load_config  # noqa: E402
from prompt_sync_pipeline.sync.report import SyncReport  # noqa: E402
from prompt_sync_tests.gitrepos import GIT_ENV, make_team  # noqa: E402


def median_ms(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main_benchmark() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    os.environ.update(GIT_ENV)
    with EmulatorServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update({"OPIK_URL_OVERRIDE": server.url, "OPIK_WORKSPACE": "bench"})
        team = make_team(Path(tmp), "bench", deliver="branch")
        config_path = str(team.deployment.config_path)

        def sync(*options: str) -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                assert main(["--config", config_path, "sync", *options]) == 0

        sync()  # the first sync creates the prompts; the timed ones change nothing
        config = load_config(config_path)
        figures = {
            "no-op sync, git on": median_ms(sync, runs),
            "no-op sync, --no-git": median_ms(lambda: sync("--no-git"), runs),
            "git alone (update + deliver)": median_ms(
                lambda: start_git_run(config).finish(SyncReport()), runs
            ),
        }
    for label, ms in figures.items():
        print(f"{label:30s} median {ms:6.0f} ms over {runs} runs")


if __name__ == "__main__":
    main_benchmark()
