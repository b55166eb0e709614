"""Helpers for the core tests: a fast simulated client and bounded waiting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from sora_async import AsyncSoraClient

PROVIDERS = ("codefast", "soravideo", "openai")
FAST = 0.002  # a 60 s video takes 0.12 s


def simulated(provider: str = "codefast", **settings: Any) -> AsyncSoraClient:
    settings.setdefault("time_scale", FAST)
    settings.setdefault("seed", 3)
    return AsyncSoraClient.simulated(provider=provider, **settings)


async def eventually(condition: Callable[[], bool], *, steps: int = 500) -> None:
    """Let other tasks run until ``condition`` holds; fail after a bounded number of steps."""
    for _ in range(steps):
        if condition():
            return
        await anyio.sleep(0.001)
    raise AssertionError("condition never held")
