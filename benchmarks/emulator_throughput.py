"""Requests per second the Opik emulator sustains through the `opik` SDK.

Starts ``opik-emulator`` in a subprocess (so the server has its own interpreter, as in real
use), then times version retrieves (``Opik.get_prompt(..., no_cache=True)``) and version
creates (``Opik.create_prompt`` with new content: one retrieve + one create each, counted as
one operation) serially and from several threads. Not a test; run it by hand:

    python benchmarks/emulator_throughput.py [--seconds 3] [--threads 8]
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

os.environ.update(
    {"OPIK_ANALYTICS_ENABLE": "false", "OPIK_SENTRY_ENABLE": "false", "OPIK_TRACK_DISABLE": "true"}
)

import opik

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_emulator(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "opik_emulator.cli", "--port", str(port), "--db", str(db)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/is-alive/ping", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.terminate()
    raise SystemExit("the emulator did not start")


def measure(operation: Callable[[], object], seconds: float, threads: int) -> float:
    """Operations per second, running ``operation`` in ``threads`` threads for ``seconds``."""
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def worker(slot: int) -> None:
        while time.monotonic() < stop:
            operation()
            counts[slot] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(worker, range(threads)))
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_emulator(Path(tmp) / "bench.sqlite")
        client = opik.Opik(host=url, workspace="bench", project_name="bench")
        try:
            client.create_prompt("bench", "Hello {{name}}")
            counter = itertools.count()
            lock = threading.Lock()

            def retrieve() -> object:
                return client.get_prompt("bench", no_cache=True)

            def create() -> object:
                with lock:
                    n = next(counter)
                return client.create_prompt(f"bench-create-{n % 50}", f"text {n}")

            for label, operation in (("version retrieve", retrieve), ("version create", create)):
                serial = measure(operation, args.seconds, 1)
                parallel = measure(operation, args.seconds, args.threads)
                print(
                    f"{label:17s} serial: {serial:7.0f} ops/s   "
                    f"{args.threads} threads: {parallel:7.0f} ops/s"
                )
        finally:
            client.end()
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
