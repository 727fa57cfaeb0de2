"""Benchmark: what the sync state file saves, measured side by side in one run.

For C composites over I = C/5 individual prompts (generated as in ``sync_benchmark.py``), in the
Opik emulator with 20 ms of added latency per request, two scenarios each run twice: with the
state file beside the charter (incremental: one listing, reads only what changed) and without it
(the file deleted first, as at first contact: every prompt read). The scenarios:

- no-op: nothing changed on either side;
- changed in Opik: 100 composites optimized in Opik (each its own task prompt) since the last sync.

The library is set up by a first sync with no added latency (not measured). Requests and writes
come from the emulator's request log. The client's rate limit is off (a self-hosted Opik).

    python benchmarks/state_benchmark.py [--sizes 300 1000 10000] [--latency-ms 20] [--changed 100]
                                         [--vs REV [--runs 5]]

``--vs REV`` also times the no-op with the state file at git revision REV (a temporary worktree),
alternating runs of this tree and REV's (A B A B ...) on the same emulator, files and latency, so
a change to the code is measured side by side with the code before it.
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
from contextlib import nullcontext
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline import worktree
from sync_benchmark import _library, emulator_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 1000, 10000])
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--vs", metavar="REV", help="time the no-op at this git revision too")
    parser.add_argument("--runs", type=int, default=5, help="alternating runs per tree (--vs)")
    args = parser.parse_args()

    rows, side_by_side = [], []
    with (
        emulator_process() as url,
        nullcontext() if args.vs is None else worktree(args.vs) as baseline,
    ):
        for size in args.sizes:
            with tempfile.TemporaryDirectory() as tmp:
                rows += _bench_size(url, Path(tmp), size, args.latency_ms, args.changed)
                if baseline is not None:
                    side_by_side.append((size, _alternate(url, Path(tmp), baseline, args)))
    _print_table(args, rows)
    for size, figures in side_by_side:
        print(f"\nC={size}, no-op with the state file, {args.runs} alternating runs each (median):")
        for tree, runs in figures.items():
            seconds = statistics.median(r["seconds"] for r in runs)
            requests = {r["requests"] for r in runs}
            print(f"  {tree:<28} {seconds:>7.2f} s  requests {sorted(requests)}")


REPO = Path(__file__).resolve().parents[1]
# Times one no-op sync in a fresh process with the code of the tree given as argv[1]; the SDK is
# imported first, as in a run measured in-process above, so the figure is the sync's own.
_TIMER = """
import json, sys, time
import httpx, opik, opik.rest_api
sys.path.insert(0, sys.argv[1])
from prompt_sync_pipeline.sync.config import load_config
from prompt_sync_pipeline.sync.engine import run_sync
started = time.perf_counter()
report = run_sync(load_config(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - started, "failed": report.failed}))
"""


def _alternate(
    url: str, directory: Path, baseline: Path, args: argparse.Namespace
) -> dict[str, list[dict]]:
    """The no-op (state file in place, nothing changed) timed A B A B ... in fresh processes,
    after one untimed run that settles whatever the scenarios left."""
    from opik_emulator import AdminClient

    admin = AdminClient(url)
    admin.set_latency(args.latency_ms)
    workspace = os.environ["OPIK_WORKSPACE"]
    _sync(directory / "prompt_sync.yaml")
    trees = {"this tree": REPO, f"at {args.vs}": baseline}
    figures: dict[str, list[dict]] = {label: [] for label in trees}
    for _ in range(args.runs):
        for label, tree in trees.items():
            admin.clear_requests(workspace)
            out = subprocess.run(
                [sys.executable, "-c", _TIMER, str(tree), str(directory / "prompt_sync.yaml")],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            figures[label].append(
                {**json.loads(out.splitlines()[-1]), "requests": len(admin.requests(workspace))}
            )
    admin.close()
    return figures


def _bench_size(url: str, directory: Path, composites: int, latency_ms: float, changed: int):
    from opik_emulator import AdminClient
    from prompt_sync_pipeline.sync.config import load_config

    individuals = composites // 5
    charter, table = _library(individuals, composites)
    workspace = f"bench-state-{composites}"
    os.environ.update(OPIK_URL_OVERRIDE=url, OPIK_WORKSPACE=workspace)
    (directory / "charter.json").write_text(json.dumps(charter, indent=2))
    config_path = directory / "prompt_sync.yaml"
    opik = {"project_name": "bench", "max_concurrency": 16, "max_requests_per_minute": None}
    config_path.write_text(
        yaml.safe_dump({"charter": "charter.json", "opik": opik, "composites": table})
    )
    config = load_config(config_path)
    admin = AdminClient(url)
    admin.set_latency(0)
    started = time.perf_counter()
    _sync(config_path)
    print(f"C={composites}: set up by a first sync in {time.perf_counter() - started:.1f} s")
    admin.set_latency(latency_ms)

    rows = []
    for scenario in ("no-op", f"{changed} changed in Opik"):
        figures = {}
        for variant in ("with state", "without state"):
            if scenario != "no-op":
                admin.set_latency(0)
                figures["changed"] = _optimize(workspace, url, table, changed, tag=variant)
                admin.set_latency(latency_ms)
            if variant == "without state":
                config.state_path.unlink()
            figures[variant] = _measure(admin, workspace, lambda: _sync(config_path))
        rows.append((composites, individuals, scenario, figures))
    admin.close()
    return rows


def _sync(config_path: Path) -> None:
    from prompt_sync_pipeline.sync.config import load_config
    from prompt_sync_pipeline.sync.engine import run_sync

    report = run_sync(load_config(config_path))
    if report.failed:
        raise SystemExit(f"prompt-sync failed: {report.summary_line()}")


def _optimize(workspace: str, url: str, table: dict, count: int, tag: str) -> int:
    """``count`` composites get a new version in Opik: every composite of a task prompt at
    once (as an optimizer run over that task would), so the change doesn't spread to others."""
    import opik

    by_task: dict[str, list[str]] = {}
    for name, spec in table.items():
        by_task.setdefault(spec["user_prompt"], []).append(name)
    chosen: list[str] = []
    for names in by_task.values():
        if len(chosen) + len(names) <= count:
            chosen += names
    client = opik.Opik(host=url, workspace=workspace, project_name="bench")
    for name in chosen:
        messages = [
            dict(m) for m in client.get_chat_prompt(name=name, project_name="bench").template
        ]
        messages[1]["content"] += f" Optimized ({tag})."
        client.create_chat_prompt(name=name, messages=messages, project_name="bench")
    client.end()
    return len(chosen)


def _measure(admin, workspace: str, run) -> dict:
    admin.clear_requests(workspace)
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    records = admin.requests(workspace)
    writes = sum(r.method != "GET" and not r.path.endswith("/retrieve") for r in records)
    return {"seconds": seconds, "requests": len(records), "writes": writes}


def _print_table(args: argparse.Namespace, rows: list) -> None:
    print(f"\n{args.latency_ms:g} ms added latency per request; I = C/5; listing page: 1,000\n")
    header = (
        f"{'C':>6} {'I':>5}  {'scenario':<22}{'with state file':>28}"
        f"{'without state file':>30}{'requests':>10}{'time':>8}"
    )
    print(header)
    print("-" * len(header))
    for composites, individuals, scenario, f in rows:
        a, b = f["with state"], f["without state"]
        if "changed" in f:
            scenario = f"{f['changed']} changed in Opik"
        print(
            f"{composites:>6} {individuals:>5}  {scenario:<22}"
            f"{a['seconds']:>8.2f} s {a['requests']:>6} req {a['writes']:>4} wr"
            f"{b['seconds']:>10.2f} s {b['requests']:>6} req {b['writes']:>4} wr"
            f"{b['requests'] / a['requests']:>9.0f}x{b['seconds'] / a['seconds']:>7.1f}x"
        )


if __name__ == "__main__":
    main()
