"""``python -m sora_async.simulator``: serve a simulated provider on 127.0.0.1."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from urllib.parse import urlsplit

from ._server import run_cli
from ._simulator import Simulator


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m sora_async.simulator",
        description="Serve a simulated Sora-2 provider on 127.0.0.1.",
    )
    parser.add_argument(
        "--provider", choices=("codefast", "soravideo", "openai"), default="codefast"
    )
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--time-scale", type=float, default=1.0, help="real seconds per sim second")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--daily-limit", type=int, default=None)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Build the simulator from the arguments and serve it until interrupted."""
    args = parse_args(argv)
    sim = Simulator(
        provider=args.provider,
        time_scale=args.time_scale,
        api_key=args.api_key,
        seed=args.seed,
        workers=args.workers,
        daily_limit=args.daily_limit,
        failure_rate=args.failure_rate,
    )
    prefix = urlsplit(sim.base_url).path  # the same path prefix as in-process
    run_cli(
        sim.app, port=args.port, base_path=prefix, name=args.provider, access_log=args.access_log
    )


if __name__ == "__main__":
    main()
