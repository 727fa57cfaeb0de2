"""Benchmark: prompt-sync against a plain serial loop over the SDK, measured side by side.

A generated library of 300 composites over 100 individual prompts (5 shared personas, 95 tasks)
in the Opik emulator with 20 ms of added latency per request (a remote Opik's round trip). Three
scenarios: the first sync, a no-op sync, and a sync after 10 composites were optimized in Opik.
The serial loop does the same pushes the way the old nightly script did: ``create_prompt`` /
``create_chat_prompt`` for every prompt, one after the other.

    python benchmarks/sync_benchmark.py [--latency-ms 20] [--composites 300] [--individuals 100]

Prints wall times, request counts (from the emulator's request log) and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

PERSONAS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20)
    parser.add_argument("--composites", type=int, default=300)
    parser.add_argument("--individuals", type=int, default=100)
    parser.add_argument("--optimized", type=int, default=10)
    args = parser.parse_args()

    with (
        emulator_process("--latency-ms", str(args.latency_ms)) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        charter, composites = _library(args.individuals, args.composites)
        config_path = _write_project(Path(tmp), charter, composites)
        ours = _bench_prompt_sync(url, config_path, composites, args.optimized)
        loop = _bench_serial_loop(url, charter, composites, args.optimized)
    _print_table(args, ours, loop)


# -- The library ------------------------------------------------------------------------------


def _library(individuals: int, composites: int) -> tuple[dict, dict]:
    tasks = individuals - PERSONAS
    charter = {
        f"bench.persona_{p}": {
            "template": f"You are assistant #{p} of {{{{team}}}}. Be precise and kind.",
            "type": "mustache",
        }
        for p in range(PERSONAS)
    }
    for t in range(tasks):
        charter[f"bench.task_{t}"] = {
            "template": f"Task {t}: handle {{{{input}}}} and answer in {{{{language}}}}.",
            "type": "mustache",
        }
    # Each (persona, task) pair at most once: i and i + tasks differ in persona.
    table = {
        f"bench-composite-{i}": {
            "system_prompt": f"bench.persona_{(i // tasks + i) % PERSONAS}",
            "user_prompt": f"bench.task_{i % tasks}",
        }
        for i in range(composites)
    }
    return charter, table


def _write_project(directory: Path, charter: dict, composites: dict) -> Path:
    (directory / "charter.json").write_text(json.dumps(charter, indent=2))
    config = {
        "charter": "charter.json",
        # A self-hosted Opik (the emulator): no client-side rate limit.
        "opik": {"project_name": "bench", "max_concurrency": 16, "max_requests_per_minute": None},
        "composites": composites,
    }
    path = directory / "prompt_sync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# -- The two contenders -----------------------------------------------------------------------


def _bench_prompt_sync(url: str, config_path: Path, composites: dict, optimized: int) -> dict:
    from prompt_sync_pipeline.sync.config import load_config
    from prompt_sync_pipeline.sync.engine import run_sync

    workspace = "bench-prompt-sync"
    os.environ.update(OPIK_URL_OVERRIDE=url, OPIK_WORKSPACE=workspace)

    def sync() -> None:
        report = run_sync(load_config(config_path))
        if report.failed:
            raise SystemExit(f"prompt-sync failed: {report.summary_line()}")

    results = {
        "first sync": _measure(url, workspace, sync),
        "no-op sync": _measure(url, workspace, sync),
    }
    _optimize_in_opik(url, workspace, composites, optimized)
    results[f"after {optimized} optimizations"] = _measure(url, workspace, sync)
    return results


def _bench_serial_loop(url: str, charter: dict, composites: dict, optimized: int) -> dict:
    import opik

    workspace = "bench-serial-loop"
    client = opik.Opik(host=url, workspace=workspace, project_name="bench")

    def push_all() -> None:
        for name, prompt in charter.items():
            client.create_prompt(name=name, prompt=prompt["template"], project_name="bench")
        for name, spec in composites.items():
            messages = [
                {"role": "system", "content": charter[spec["system_prompt"]]["template"]},
                {"role": "user", "content": charter[spec["user_prompt"]]["template"]},
            ]
            client.create_chat_prompt(name=name, messages=messages, project_name="bench")

    results = {
        "first sync": _measure(url, workspace, push_all),
        "no-op sync": _measure(url, workspace, push_all),
    }
    # The same pushes prompt-sync makes after adopting the optimizations: the changed tasks.
    for name in _optimized_names(composites, optimized):
        task = composites[name]["user_prompt"]
        charter[task] = {**charter[task], "template": charter[task]["template"] + " Optimized."}
    results[f"after {optimized} optimizations"] = _measure(url, workspace, push_all)
    client.end()
    return results


def _optimized_names(composites: dict, count: int) -> list[str]:
    seen_tasks: set[str] = set()
    names = []
    for name, spec in composites.items():
        if spec["user_prompt"] not in seen_tasks:
            seen_tasks.add(spec["user_prompt"])
            names.append(name)
        if len(names) == count:
            break
    return names


def _optimize_in_opik(url: str, workspace: str, composites: dict, count: int) -> None:
    import opik

    client = opik.Opik(host=url, workspace=workspace, project_name="bench")
    for name in _optimized_names(composites, count):
        current = client.get_chat_prompt(name=name, project_name="bench")
        messages = [dict(m) for m in current.template]
        messages[1]["content"] += " Optimized."
        client.create_chat_prompt(name=name, messages=messages, project_name="bench")
    client.end()


# -- Measuring --------------------------------------------------------------------------------


def _measure(url: str, workspace: str, run: Callable[[], None]) -> dict:
    from opik_emulator import AdminClient

    admin = AdminClient(url)
    admin.clear_requests(workspace)
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    records = admin.requests(workspace)
    admin.close()
    writes = sum(r.method != "GET" and not r.path.endswith("/retrieve") for r in records)
    return {"seconds": seconds, "requests": len(records), "writes": writes}


def _print_table(args: argparse.Namespace, ours: dict, loop: dict) -> None:
    print(
        f"{args.composites} composites over {args.individuals} individual prompts, "
        f"{args.latency_ms:g} ms added latency per request"
    )
    pages = -(-(args.composites + args.individuals) // 1000)
    print(f"request minimum for a no-op sync: the listing, {pages + 1} requests, 0 writes\n")
    header = f"{'scenario':<26}{'prompt-sync':>26}{'serial SDK loop':>28}{'speed-up':>10}"
    print(header)
    print("-" * len(header))
    for scenario in ours:
        a, b = ours[scenario], loop[scenario]
        print(
            f"{scenario:<26}"
            f"{a['seconds']:>8.2f} s {a['requests']:>5} req {a['writes']:>4} wr"
            f"{b['seconds']:>10.2f} s {b['requests']:>5} req {b['writes']:>4} wr"
            f"{b['seconds'] / a['seconds']:>9.1f}x"
        )


@contextmanager
def emulator_process(*options: str) -> Iterator[str]:
    """The Opik emulator in a process of its own (as a deployed Opik is), on a free loopback
    port; yields its REST base URL. The SDK's analytics and error reporting stay off."""
    os.environ.update(OPIK_ANALYTICS_ENABLE="false", OPIK_SENTRY_ENABLE="false")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    server = subprocess.Popen(
        [sys.executable, "-m", "opik_emulator.cli", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_until_alive(url)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_alive(url: str, timeout: float = 15) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/is-alive/ping", timeout=1).json() == {"healthy": True}:
                return
        except (httpx.HTTPError, ValueError):
            time.sleep(0.1)
    raise SystemExit(f"the emulator did not start at {url}")


if __name__ == "__main__":
    main()
