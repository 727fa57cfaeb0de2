"""How long the access check takes to give up on an Opik that can't be used (README's figures).

Times ``OpikProject.check_access()`` with the example's retry settings against a closed port
(refused, retried with backoff) and a server that accepts connections and never answers (one
timeout, not retried), for a few ``timeout_seconds``. Loopback only. Not a test; run it by hand:

    python benchmarks/access_check.py [--timeouts 1 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from pathlib import Path

os.environ.update(
    {"OPIK_ANALYTICS_ENABLE": "false", "OPIK_SENTRY_ENABLE": "false", "OPIK_TRACK_DISABLE": "true"}
)

from prompt_sync_pipeline.opik import OpikUnavailable
from prompt_sync_pipeline.opik.project import OpikProject
from prompt_sync_pipeline.sync.config import load_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "forseti" / "prompt_sync.yaml"


def time_check(url: str, timeout_seconds: float) -> tuple[float, str]:
    settings = load_config(EXAMPLE).opik.model_copy(update={"timeout_seconds": timeout_seconds})
    start = time.monotonic()
    with OpikProject.connect(settings, url=url) as project:
        try:
            project.check_access()
            outcome = "answered"
        except OpikUnavailable as exc:
            outcome = str(exc).split(". ")[0]
    return time.monotonic() - start, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeouts", type=float, nargs="+", default=[1.0, 3.0])
    args = parser.parse_args()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/api"
    silent_socket = socket.socket()
    silent_socket.bind(("127.0.0.1", 0))
    silent_socket.listen(64)
    silent = f"http://127.0.0.1:{silent_socket.getsockname()[1]}/api"

    print("| server | timeout_seconds | gave up after | message |")
    print("| --- | --- | --- | --- |")
    for timeout in args.timeouts:
        for label, url in (("closed port", closed), ("never answers", silent)):
            seconds, outcome = time_check(url, timeout)
            print(f"| {label} | {timeout:g} | {seconds:.1f} s | {outcome} |")
    silent_socket.close()


if __name__ == "__main__":
    main()
