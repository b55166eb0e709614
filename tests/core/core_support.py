"""Helpers for the core tests: a fast simulated client and bounded waiting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import httpx

from sora_async import AsyncSoraClient
from sora_async.simulator import Simulator

PROVIDERS = ("codefast", "soravideo", "openai")
FAST = 0.002  # a 60 s video takes 0.12 s
#: Jobs of 10-30 sim s (the simulator's default is 30-90): still several poll intervals
#: (3 sim s at first), a third of the real time per batch.
SHORT_JOBS = (10.0, 30.0)


def simulated(provider: str = "codefast", **settings: Any) -> AsyncSoraClient:
    settings.setdefault("time_scale", FAST)
    settings.setdefault("seed", 3)
    settings.setdefault("service_time", SHORT_JOBS)
    return AsyncSoraClient.simulated(provider=provider, **settings)


async def eventually(condition: Callable[[], bool], *, steps: int = 500) -> None:
    """Let other tasks run until ``condition`` holds; fail after a bounded number of steps."""
    for _ in range(steps):
        if condition():
            return
        await anyio.sleep(0.001)
    raise AssertionError("condition never held")


def simulated_with_key(provider: str, *, accepted: str, sent: str) -> AsyncSoraClient:
    """A client sending ``sent`` to an in-process simulator that accepts only ``accepted``."""
    simulator = Simulator(provider=provider, time_scale=FAST, api_key=accepted)
    client = AsyncSoraClient(
        api_key=sent,
        provider=provider,
        base_url=simulator.base_url,
        http_client=httpx.AsyncClient(transport=simulator.transport()),
        allow_insecure_http=True,
    )
    client.simulator = simulator
    return client
