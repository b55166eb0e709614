"""Absurd pauses: whatever wait a server asks for, the client waits at most the cap (60 s,
scaled here by scale_time so the tests are fast), and says so once at WARNING."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from hostile_server import Reply, serve
from hostile_support import JOB_ANSWERS, bounded, client_for

from sora_async import AsyncSoraClient, JobStatus

pytestmark = pytest.mark.anyio

SCALE = 0.001  # the 60 s cap becomes 0.06 s
YEAR_9999 = "253402300799"


def script(*steps: Callable[[Reply], None]) -> Callable[[Reply], None]:
    """Answer the n-th request with the n-th step (the last one repeats)."""
    served = 0

    def handler(reply: Reply) -> None:
        nonlocal served
        step = steps[min(served, len(steps) - 1)]
        served += 1
        step(reply)

    return handler


def job(provider: str, headers: list[tuple[str, str]] | None = None) -> Callable[[Reply], None]:
    return lambda reply: reply.json(200, JOB_ANSWERS[provider], headers or [])


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "sora_async" and r.levelno == logging.WARNING
    ]


def scaled(origin: str, provider: str, **options: Any) -> AsyncSoraClient:
    client = client_for(origin, provider, **options)
    client.scale_time(SCALE)
    return client


@pytest.mark.parametrize(
    ("provider", "headers"),
    [
        (
            "soravideo",
            [
                ("X-RateLimit-Limit", "20"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", YEAR_9999),
            ],
        ),
        (
            "openai",
            [
                ("x-ratelimit-limit-requests", "20"),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "80000h"),
            ],
        ),
    ],
)
async def test_a_rate_limit_reset_years_away_pauses_only_the_cap(
    provider: str, headers: list[tuple[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sora_async")
    with serve(job(provider, headers)) as server:
        async with scaled(server.origin, provider) as client:
            with bounded():
                await client.get_job("j1")
                first = warnings(caplog)
                await client.get_job("j1")  # waits for the capped pause, not for years
    assert len(server.received) == 2
    assert len(first) == 1
    assert "reset" in first[0]


@pytest.mark.parametrize(
    ("provider", "refusal"),
    [
        ("codefast", (429, {"detail": "Too many requests"}, [("Retry-After", "999999999")])),
        ("openai", (429, {"error": {"message": "slow down"}}, [("Retry-After", "999999999")])),
        ("soravideo", (200, {"code": 2001, "msg": "rate limited", "retryAfter": 999999999}, [])),
        ("codefast", (503, {"detail": "busy"}, [("Retry-After", "999999999")])),
    ],
)
async def test_an_absurd_retry_after_waits_only_the_cap(
    provider: str, refusal: tuple[int, Any, list[tuple[str, str]]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sora_async")
    status, body, headers = refusal

    def refuse(reply: Reply) -> None:
        reply.json(status, body, headers)

    with serve(script(refuse, job(provider))) as server:
        async with scaled(server.origin, provider, max_retries=1) as client:
            with bounded():
                found = await client.get_job("j1")
    assert found.id == "j1"
    assert len(server.received) == 2
    assert len(warnings(caplog)) == 1
    assert "999999999" in warnings(caplog)[0]


async def test_an_absurd_poll_hint_is_capped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sora_async")
    hint = [("Retry-After", "999999999")]
    done = {"task_id": "j1", "status": "completed", "video_url": "https://cdn.example/j1.mp4"}

    def finish(reply: Reply) -> None:
        reply.json(200, {"code": 200, "msg": "success", "data": done}, hint)

    # soravideo cannot list: every look is a status poll that carries the hint.
    steps = [job("soravideo", hint)] * 3 + [finish]
    with serve(script(*steps)) as server:
        options = {"poll_interval": 0.01, "max_poll_interval": 0.05}
        async with scaled(server.origin, "soravideo", **options) as client:
            first = await client.get_job("j1")
            with bounded():
                finished = await client.wait(first)
    assert finished.status is JobStatus.COMPLETED
    assert len(server.received) == 4
    assert len(warnings(caplog)) == 1
    assert "max_poll_interval" in warnings(caplog)[0]
