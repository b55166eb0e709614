"""``python -m sora_async.simulator``: serve a simulated provider on 127.0.0.1.

Every mistake in the options is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import NoReturn
from urllib.parse import urlsplit

from pydantic import ValidationError

from ._server import ServeError, run_cli
from ._simulator import Simulator

PROG = "python -m sora_async.simulator"
_MAX_PORT = 65535
_MAX_WORKERS = 10_000  # each worker is a slot in memory: a typo must not exhaust it


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, as everywhere in the command line (argparse would add the usage).
        self.exit(2, f"{self.prog}: error: {message}\n")


def _whole(low: int, high: int, hint: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}{hint}")
        return value

    return parse


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Serve a simulated Sora-2 provider on 127.0.0.1.")
    parser.add_argument(
        "--provider", choices=("codefast", "soravideo", "openai"), default="codefast"
    )
    parser.add_argument(
        "--port",
        type=_whole(0, _MAX_PORT, " (0 picks a free port)"),
        default=8000,
        help="0 picks a free port",
    )
    parser.add_argument("--time-scale", type=float, default=1.0, help="real seconds per sim second")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=_whole(1, _MAX_WORKERS), default=None)
    parser.add_argument("--daily-limit", type=int, default=None)
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def parse_args(argv: Sequence[str] | None = None, *, prog: str = PROG) -> argparse.Namespace:
    """The command line."""
    return _parser(prog).parse_args(argv)


def main(argv: Sequence[str] | None = None, *, prog: str = PROG) -> None:
    """Build the simulator from the arguments and serve it until interrupted.

    >>> main(["--provider", "soravideo", "--port", "0"])  # doctest: +SKIP
    Simulator (soravideo) ready at http://127.0.0.1:40123/api/v1
    """
    parser = _parser(prog)
    args = parser.parse_args(argv)
    try:
        sim = Simulator(
            provider=args.provider,
            time_scale=args.time_scale,
            api_key=args.api_key,
            seed=args.seed,
            workers=args.workers,
            daily_limit=args.daily_limit,
            failure_rate=args.failure_rate,
        )
    except ValidationError as exc:
        parser.error(_first_problem(exc))
    prefix = urlsplit(sim.base_url).path  # the same path prefix as in-process
    try:
        run_cli(
            sim.app,
            port=args.port,
            base_path=prefix,
            name=args.provider,
            access_log=args.access_log,
        )
    except ServeError as exc:
        parser.error(str(exc))


def _first_problem(error: ValidationError) -> str:
    """The first thing the settings refused, named as its option (never echoing the value)."""
    problem = error.errors()[0]
    field = ".".join(str(part) for part in problem["loc"])
    message = problem["msg"]
    return f"argument --{field.replace('_', '-')}: {message[:1].lower()}{message[1:]}"


if __name__ == "__main__":
    main()
