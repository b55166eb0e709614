"""One measured client run, in a process of its own (started by ``run.py``).

    python benchmarks/_client.py {sdk|baseline|baseline-bounded} --provider P --url URL
        --n N --time-scale S --deadline SECONDS --out result.json

It generates ``N`` prompts against a simulator already serving at ``URL``, records the real
unix time at which each finished item was handed to the caller, and writes one JSON object:
the items, CPU seconds spent by the run, the process's peak RSS, the TCP connections opened.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _baseline import Baseline, ItemRecord, wire_for
from _measure import ConnectionStats, count_connections, cpu_seconds, peak_rss_mb

API_KEY = "bench"
SDK_MAX_CONNECTIONS = 32  # AsyncSoraClient's default, passed explicitly to be reported
HTTPX_DEFAULT_MAX_CONNECTIONS = 100  # httpx.AsyncClient() with no limits= (the baseline)
#: Real seconds past the deadline before the watchdog stops a client whose event loop is too
#: busy to notice its own timeout (the plain baseline at N=10,000).
HARD_STOP_GRACE = 15.0


@dataclass
class Outcome:
    """What a client did, whichever client it was; filled in while it runs."""

    max_connections: int
    items: list[ItemRecord] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    timed_out: bool = False


def prompts(n: int) -> Iterator[str]:
    """Distinct prompts, made lazily (as a user streaming a prompt file would)."""
    return (f"benchmark prompt {i}: a paper boat on a rainy street" for i in range(n))


async def run_sdk(args: argparse.Namespace, outcome: Outcome) -> None:
    """``generate_many`` over every prompt, polls and rate window scaled like the server."""
    from sora_async import AsyncSoraClient

    scale = args.time_scale
    client = AsyncSoraClient(
        provider=args.provider,
        base_url=args.url,
        api_key=API_KEY,
        max_connections=SDK_MAX_CONNECTIONS,
        poll_interval=3.0 * scale,
        max_poll_interval=30.0 * scale,
    )
    # The published rate window (soravideo: 20 a minute) runs as fast as the server's clock.
    client.scale_time(scale)
    async with client:
        try:
            async with asyncio.timeout(args.deadline):
                async for item in client.generate_many(prompts(args.n)):
                    job_id = item.job.id if item.job is not None else None
                    outcome.items.append((job_id, item.status, time.time(), item.error))
                    if item.error:
                        outcome.errors[_error_kind(item.error)] += 1
        except TimeoutError:
            outcome.timed_out = True
        outcome.requests = client.requests_sent


def _error_kind(text: str) -> str:
    """``"APIConnectionError: GET /x failed: PoolTimeout: ..."`` -> ``"PoolTimeout"``."""
    for kind in ("PoolTimeout", "ReadTimeout", "ConnectTimeout", "ConnectError"):
        if kind in text:
            return kind
    return text.split(":", 1)[0]


async def run_baseline(args: argparse.Namespace, outcome: Outcome) -> None:
    """The seed's pattern (see ``_baseline.py``), stopped at the deadline."""
    bounded = args.kind == "baseline-bounded"
    baseline = Baseline(
        wire=wire_for(args.provider, API_KEY),
        base_url=args.url,
        time_scale=args.time_scale,
        max_in_flight=HTTPX_DEFAULT_MAX_CONNECTIONS if bounded else None,
        # Shared with the outcome, so that the watchdog sees them as they grow.
        items=outcome.items,
        errors=outcome.errors,
    )
    try:
        async with asyncio.timeout(args.deadline):
            await baseline.run(prompts(args.n))
    except TimeoutError:
        outcome.timed_out = True
    finally:
        outcome.requests = baseline.requests


class Recorder:
    """Writes the result once: at the end of the run, or from the watchdog at a hard stop."""

    def __init__(self, path: Path, outcome: Outcome, stats: ConnectionStats) -> None:
        self._path = path
        self._outcome = outcome
        self._stats = stats
        self._lock = threading.Lock()
        self._written = False
        self.started = time.time()
        # CPU is counted from here: interpreter start-up and imports are not the client's.
        self._cpu_before = cpu_seconds()

    def write(self, *, timed_out: bool = False) -> bool:
        """Write the result unless it has been written; whether this call wrote it."""
        with self._lock:
            if self._written:
                return False
            self._written = True
            data = self._result(timed_out)
        self._path.write_text(json.dumps(data))
        return True

    def _result(self, timed_out: bool) -> dict[str, Any]:
        outcome = self._outcome
        return {
            "started_at": self.started,
            "ended_at": time.time(),
            "items": list(outcome.items),
            "errors": dict(outcome.errors),
            "client_requests": outcome.requests,
            "timed_out": outcome.timed_out or timed_out,
            "cpu_seconds": cpu_seconds() - self._cpu_before,
            "peak_rss_mb": peak_rss_mb(),
            "connections_opened": self._stats.opened,
            "peak_open_connections": self._stats.peak_open,
            "max_connections": outcome.max_connections,
        }


def start_watchdog(recorder: Recorder, after: float) -> None:
    """After ``after`` seconds, record what there is and end the process at once.

    A thread, because an event loop stuck in a long synchronous stretch cannot cancel itself
    in time (httpx's pool with thousands of queued requests).
    """

    def stop() -> None:
        if recorder.write(timed_out=True):
            os._exit(0)

    timer = threading.Timer(after, stop)
    timer.daemon = True
    timer.start()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("sdk", "baseline", "baseline-bounded"))
    parser.add_argument("--provider", choices=("codefast", "soravideo", "openai"), required=True)
    parser.add_argument("--url", required=True, help="the simulator's base URL")
    parser.add_argument("--n", type=int, required=True, help="number of prompts")
    parser.add_argument("--time-scale", type=float, required=True)
    parser.add_argument("--deadline", type=float, required=True, help="real seconds")
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    stats = count_connections()
    if args.kind == "sdk":
        # Imported before the CPU count starts; the baseline process never loads the SDK.
        importlib.import_module("sora_async")
        run, pool = run_sdk, SDK_MAX_CONNECTIONS
    else:
        run, pool = run_baseline, HTTPX_DEFAULT_MAX_CONNECTIONS
    outcome = Outcome(max_connections=pool)
    recorder = Recorder(args.out, outcome, stats)
    start_watchdog(recorder, args.deadline + HARD_STOP_GRACE)
    asyncio.run(run(args, outcome))
    recorder.write()


if __name__ == "__main__":
    main()
