"""``opik-emulator``: serve the emulator from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import uvicorn

from opik_emulator.app import create_app
from opik_emulator.faults import FaultRule


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="opik-emulator",
        description="A local emulator of the Opik REST API (prompt library and experiments). "
        "Point the SDK at it with OPIK_URL_OVERRIDE=http://HOST:PORT/api.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=5173, help="port (default: %(default)s)")
    parser.add_argument(
        "--db", default=":memory:", help="SQLite file to persist to (default: in memory)"
    )
    parser.add_argument(
        "--api-key", default=None, help="require this exact Authorization header (default: none)"
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0, help="delay added to every API request"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault_rule,
        metavar="JSON",
        help='a scripted failure from the start, e.g. \'{"path": "/prompts/versions$", '
        '"method": "POST", "status": 503, "times": 2}\' (repeatable; see FaultRule)',
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    return parser.parse_args(argv)


def _fault_rule(text: str) -> FaultRule:
    try:
        return FaultRule.from_dict(json.loads(text))
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"not a fault rule: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    app = create_app(args.db, api_key=args.api_key, latency_ms=args.latency_ms)
    for rule in args.fault:
        app.faults.add(rule)
    print(f"opik-emulator: http://{args.host}:{args.port}/api (db: {args.db})", flush=True)
    try:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    finally:
        app.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
