"""What every example script shares: the --simulate / --provider options and the client."""

from __future__ import annotations

import argparse
import os

from sora_async import AsyncSoraClient

PROVIDERS = ("codefast", "soravideo", "openai")


def add_client_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--simulate`` (also ``SORA_SIMULATE=1``) and ``--provider`` to ``parser``."""
    parser.add_argument(
        "--simulate",
        action="store_true",
        default=os.environ.get("SORA_SIMULATE", "") not in ("", "0"),
        help="use the embedded simulator (also SORA_SIMULATE=1)",
    )
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=os.environ.get("SORA_PROVIDER"),
        help="codefast (the default), soravideo or openai (also SORA_PROVIDER)",
    )
    return parser


def provider_of(args: argparse.Namespace) -> str:
    """The provider asked for, codefast by default."""
    return str(args.provider or "codefast")


def make_client(args: argparse.Namespace, provider: str | None = None) -> AsyncSoraClient:
    """A client on the simulator with ``--simulate``; else on the real service."""
    provider = provider or provider_of(args)
    if args.simulate:
        return AsyncSoraClient.simulated(provider=provider, time_scale=0.005)
    if not os.environ.get("SORA_API_KEY"):
        raise SystemExit("set SORA_API_KEY, or run with --simulate")
    return AsyncSoraClient(provider=provider)  # the key comes from SORA_API_KEY
