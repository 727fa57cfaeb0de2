"""Profile the client side of a sync: where prompt-sync's own process spends its CPU.

The emulator runs in its own process (not profiled), with no added latency, so the client's CPU
is the bottleneck. The library is set up by a first sync; the profiled run is a sync without the
state file (every prompt read: the heaviest no-op), under cProfile.

    python benchmarks/profile_client.py [--composites 1000] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_benchmark import _library, emulator_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--composites", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--with-state", action="store_true", help="profile the no-op with the state file instead"
    )
    # (cProfile sees one thread: each worker thread gets its own profile, merged at the end.)
    args = parser.parse_args()

    with emulator_process() as url:
        os.environ.update(OPIK_URL_OVERRIDE=url, OPIK_WORKSPACE="profile")
        with tempfile.TemporaryDirectory() as tmp:
            charter, table = _library(args.composites // 5, args.composites)
            (Path(tmp) / "charter.json").write_text(json.dumps(charter))
            config_path = Path(tmp) / "prompt_sync.yaml"
            opik = {"project_name": "bench", "max_requests_per_minute": None}
            config_path.write_text(
                yaml.safe_dump({"charter": "charter.json", "opik": opik, "composites": table})
            )
            from prompt_sync_pipeline.sync.config import load_config
            from prompt_sync_pipeline.sync.engine import run_sync

            run_sync(load_config(config_path))
            if not args.with_state:
                load_config(config_path).state_path.unlink()
            # The worker threads do the per-prompt work (the main thread mostly waits for them).
            profiles = _profile_workers()
            started = time.perf_counter()
            report = run_sync(load_config(config_path))
            seconds = time.perf_counter() - started
    kind = "no-op sync with the state file" if args.with_state else "sync without state"
    print(f"{kind}, {args.composites} composites: {seconds:.2f} s, {report.summary_line()}")
    stats = pstats.Stats(*profiles)
    stats.sort_stats("tottime").print_stats(args.top)


def _profile_workers() -> list[cProfile.Profile]:
    """cProfile sees one thread only: give each worker thread of the engine its own profile."""
    from prompt_sync_pipeline.sync.engine import SyncEngine

    profiles: list[cProfile.Profile] = []
    local = threading.local()
    switching = threading.Lock()
    original = SyncEngine._map

    def profiled(self, label, items, work):
        def run(item):
            profile = getattr(local, "profile", None)
            if profile is None:
                profile = local.profile = cProfile.Profile()
                profiles.append(profile)
            with switching:  # Python refuses two threads installing a profiler at once
                profile.enable()
            try:
                return work(item)
            finally:
                with switching:
                    profile.disable()

        return original(self, label, items, run)

    SyncEngine._map = profiled
    return profiles


if __name__ == "__main__":
    main()
