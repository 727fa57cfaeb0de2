"""How long ``prompt-sync`` takes to start, side by side with another commit (README's figures).

    python benchmarks/startup.py [--baseline COMMIT] [--runs N]

The baseline commit (default ``main``) is checked out into a temporary git worktree. Each
command line then runs as a fresh process, ``python -m prompt_sync_pipeline ...``, once from each
tree in turn (current, baseline, current, ...: a machine that speeds up or slows down during the
run moves both), with the tree's own package first on ``sys.path``. The commands that talk to
Opik use a local emulator started here on a free port, with the forseti example synced once, so
``plan`` and ``sync`` are no-ops: what is left is start-up and the listing's two requests.

Printed per command: the median wall time of each tree (min-max), the ratio of the medians, and
what the process imported from the heavy packages (one more run under ``python -X importtime``:
the opik SDK, Dagster). The last row is the SDK's own import, the floor of every command that
talks to Opik. Not a test (tests never assert on time); run it by hand on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import worktree

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("opik", "dagster")

COMMANDS: list[tuple[str, list[str]]] = [
    ("`prompt-sync --help`", ["--help"]),
    ("`prompt-sync --version`", ["--version"]),
    ("`prompt-sync check` (offline)", ["--config", "{config}", "check"]),
    ("`prompt-sync plan` (no-op, talks to Opik)", ["--config", "{config}", "plan"]),
    ("`prompt-sync sync` (no-op, talks to Opik)", ["--config", "{config}", "sync"]),
]
SDK_IMPORT = ("`python -c 'import opik'` (the SDK alone)", ["-c", "import opik"])


@dataclass
class Timing:
    seconds: list[float] = field(default_factory=list)
    exit_codes: set[int] = field(default_factory=set)
    imported: dict[str, float] = field(default_factory=dict)  # heavy package -> seconds

    def median(self) -> float:
        return statistics.median(self.seconds)

    def cell(self) -> str:
        if self.exit_codes - {0}:
            return f"n/a (exit {min(self.exit_codes - {0})}: no such command there)"
        spread = f"{self.median():.2f} s ({min(self.seconds):.2f}-{max(self.seconds):.2f})"
        heavy = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.imported.items())
        return f"{spread}; imports {heavy or 'neither opik nor dagster'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="the commit to compare with")
    parser.add_argument("--runs", type=int, default=10, help="runs of each command per tree")
    args = parser.parse_args()

    baseline_commit = _git("rev-parse", "--short", args.baseline)
    current_commit = _git("rev-parse", "--short", "HEAD")
    changed = _git("status", "--porcelain", "--", "prompt_sync_pipeline")
    dirty = " + uncommitted changes" if changed else ""
    with worktree(args.baseline) as baseline, _opik() as (env, config):
        trees = {"current": REPO, "baseline": baseline}
        print(
            f"current: {current_commit}{dirty}; baseline: {baseline_commit}; {args.runs} runs "
            f"each, alternating; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}\n"
        )
        print(f"| command | current ({current_commit}) | baseline ({baseline_commit}) | ratio |")
        print("| --- | --- | --- | --- |")
        for label, argv in COMMANDS:
            command = ["-m", "prompt_sync_pipeline", *(a.format(config=config) for a in argv)]
            timings = {name: Timing() for name in trees}
            for _ in range(args.runs):
                for name, tree in trees.items():
                    _time(timings[name], tree, command, env)
            for name, tree in trees.items():
                timings[name].imported = _heavy_imports(tree, command, env)
            current, old = timings["current"], timings["baseline"]
            ratio = (
                f"{current.median() / old.median():.2f}x"
                if not (current.exit_codes | old.exit_codes) - {0}
                else "-"
            )
            print(f"| {label} | {current.cell()} | {old.cell()} | {ratio} |")
        label, command = SDK_IMPORT
        sdk = Timing()
        for _ in range(args.runs):
            _time(sdk, REPO, command, env)
        print(
            f"| {label} | {sdk.median():.2f} s ({min(sdk.seconds):.2f}-{max(sdk.seconds):.2f}) | | |"
        )


def _time(timing: Timing, tree: Path, command: list[str], env: dict[str, str]) -> None:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *command],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    timing.seconds.append(time.perf_counter() - start)
    timing.exit_codes.add(done.returncode)


def _heavy_imports(tree: Path, command: list[str], env: dict[str, str]) -> dict[str, float]:
    """The cumulative import time of each heavy package the command imported (``-X importtime``
    prints one line per module: ``import time: self | cumulative | name``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        cwd=tree,
        env={**env, "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    imported = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        _, cumulative, name = line.split("|")
        if name.strip() in HEAVY and cumulative.strip().isdigit():
            imported[name.strip()] = int(cumulative) / 1e6
    return imported


@contextmanager
def _opik() -> Iterator[tuple[dict[str, str], str]]:
    """An emulator with the forseti example synced, and the environment that points at it."""
    from opik_emulator import EmulatorServer

    with EmulatorServer() as server, tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        opik_config = directory / "opik.config"
        opik_config.write_text("[opik]\n")  # never the developer's ~/.opik.config
        shutil.copy(REPO / "examples/forseti/forseti_charter.json", directory)
        raw = yaml.safe_load((REPO / "examples/forseti/prompt_sync.yaml").read_text())
        raw["opik"]["project_name"] = "startup-benchmark"
        config = directory / "prompt_sync.yaml"
        config.write_text(yaml.safe_dump(raw, sort_keys=False))
        env = {
            **os.environ,
            "OPIK_URL_OVERRIDE": server.url,
            "OPIK_WORKSPACE": "startup-benchmark",
            "OPIK_CONFIG_PATH": str(opik_config),
            "OPIK_ANALYTICS_ENABLE": "false",
            "OPIK_SENTRY_ENABLE": "false",
            "OPIK_TRACK_DISABLE": "true",
        }
        env.pop("PROMPT_SYNC_CONFIG", None)
        seeded = subprocess.run(
            [sys.executable, "-m", "prompt_sync_pipeline", "--config", str(config), "sync"],
            cwd=REPO,
            env={**env, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=False,
        )
        if seeded.returncode != 0:
            raise SystemExit(f"seeding the emulator failed:\n{seeded.stderr}")
        yield env, str(config)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


if __name__ == "__main__":
    main()
