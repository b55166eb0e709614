"""Helpers for the FastAPI tests: an app factory and a Server-Sent Events reader."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
from fastapi import FastAPI

from sora_async.contrib.fastapi import create_router, install_error_handlers, sora_lifespan

Event = tuple[str, dict[str, Any]]


def make_app(**lifespan_options: Any) -> FastAPI:
    """An app with the router and the error handlers; ``lifespan_options`` go to sora_lifespan."""
    app = FastAPI(lifespan=sora_lifespan(**lifespan_options))
    app.include_router(create_router())
    install_error_handlers(app)
    return app


async def read_events(
    http: httpx.AsyncClient,
    path: str,
    *,
    on_event: Callable[[Event], Awaitable[None] | None] | None = None,
) -> list[Event]:
    """Every event of one SSE stream, as ``(name, data)``, until the server ends it."""
    events: list[Event] = []
    async with http.stream("GET", path) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        name, data = "message", ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif not line and data:
                event = (name, json.loads(data))
                events.append(event)
                if on_event is not None:
                    result = on_event(event)
                    if result is not None:
                        await result
                name, data = "message", ""
    return events


def polls(counters: Any) -> int:
    """The status and list requests a simulator has answered."""
    return int(counters.requests.get("status", 0) + counters.requests.get("list", 0))


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Return once ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for a condition"
        await anyio.sleep(0.01)


async def first_event(http: httpx.AsyncClient, path: str) -> dict[str, Any]:
    """The first event's data of a stream; then hang up, as a closed browser tab does."""
    async with http.stream("GET", path) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                return dict(json.loads(line.removeprefix("data: ")))
    raise AssertionError("the stream ended without an event")
