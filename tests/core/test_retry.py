"""The retry rules of DESIGN.md, on their own and against the simulator's faults."""

from __future__ import annotations

import pytest
from core_support import simulated

import sora_async._retry as retry_module
from sora_async import (
    APIConnectionError,
    APITimeoutError,
    DailyLimitError,
    RateLimitError,
    ResponseParseError,
    ServerError,
    SoraError,
)
from sora_async._retry import RetryPolicy

pytestmark = pytest.mark.anyio


def _server(status: int, retry_after: float | None = None) -> ServerError:
    error = ServerError("x", status_code=status)
    error.retry_after = retry_after  # type: ignore[attr-defined]
    return error


RULES: list[tuple[SoraError, bool, bool]] = [
    # error, retried for a read, retried for a submit
    (APIConnectionError("refused"), True, True),
    (APIConnectionError("reset", maybe_submitted=True), True, False),
    (APITimeoutError("read timeout", maybe_submitted=True), True, False),
    (RateLimitError("slow down", status_code=429, retry_after=1), True, True),
    (DailyLimitError("spent", status_code=429), False, False),
    (_server(500), True, False),
    (_server(503, retry_after=2), True, True),
    (_server(503), True, False),
    (ResponseParseError("bad json"), True, False),
]


@pytest.mark.parametrize(("error", "read", "submit"), RULES)
def test_which_failures_are_retried(error: SoraError, read: bool, submit: bool) -> None:
    policy = RetryPolicy()
    assert policy.retryable(error, submit=False) is read
    assert policy.retryable(error, submit=True) is submit


def test_delays_grow_with_full_jitter_and_a_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    delays = [d for _, d in zip(range(50), policy.delays(), strict=False)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 1  # jittered


async def test_retry_after_is_honoured_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(retry_module.anyio, "sleep", fake_sleep)
    attempts = iter([RateLimitError("x", status_code=429, retry_after=1000.0), None])

    async def attempt() -> str:
        error = next(attempts)
        if error is not None:
            raise error
        return "ok"

    assert await RetryPolicy(max_retry_after=7.0).call(attempt) == "ok"
    assert slept == [7.0]


async def test_retries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    async def fake_sleep(seconds: float) -> None:
        return None

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise _server(502)

    monkeypatch.setattr(retry_module.anyio, "sleep", fake_sleep)
    with pytest.raises(ServerError):
        await RetryPolicy(max_retries=3).call(attempt)
    assert calls == 4


@pytest.mark.parametrize("kind", ["5xx", "html", "malformed_json", "429"])
async def test_status_reads_survive_transient_faults(kind: str) -> None:
    async with simulated("codefast") as client:
        sim = client.simulator
        assert sim is not None
        job = await client.submit("a harbour")
        sim.inject(kind, route="status", times=2)
        assert (await client.get_job(job.id)).id == job.id
        assert sim.counters.requests["status"] == 3


async def test_a_submit_refused_with_429_is_resent() -> None:
    async with simulated("soravideo") as client:
        sim = client.simulator
        assert sim is not None
        sim.inject("429", route="submit", times=2, retry_after=1.0)
        job = await client.submit("a harbour")
    assert job.id
    assert sim.counters.requests["submit"] == 3 and sim.counters.submits == 1


@pytest.mark.parametrize("kind", ["drop_after_accept", "timeout", "malformed_json"])
async def test_an_ambiguous_submit_is_never_resent(kind: str) -> None:
    async with simulated("codefast") as client:
        sim = client.simulator
        assert sim is not None
        sim.inject(kind, route="submit", times=1)
        with pytest.raises(APIConnectionError) as caught:
            await client.submit("a harbour")
        assert caught.value.maybe_submitted
        assert "not resent" in str(caught.value)
        assert sim.counters.requests["submit"] == 1


async def test_a_5xx_submit_is_not_resent() -> None:
    async with simulated("openai") as client:
        sim = client.simulator
        assert sim is not None
        sim.inject("5xx", route="submit", times=1, status=500)
        with pytest.raises(ServerError):
            await client.submit("a harbour")
        assert sim.counters.requests["submit"] == 1


async def test_max_retries_bounds_reads() -> None:
    async with simulated("openai", max_retries=2) as client:
        sim = client.simulator
        assert sim is not None
        job = await client.submit("a harbour")
        sim.inject("5xx", route="status", times=10)
        with pytest.raises(ServerError):
            await client.get_job(job.id)
        assert sim.counters.requests["status"] == 3


async def test_a_503_submit_with_retry_after_is_resent() -> None:
    async with simulated("codefast") as client:
        sim = client.simulator
        assert sim is not None
        sim.inject("5xx", route="submit", times=1, status=503, retry_after=1.0)
        job = await client.submit("a harbour")
    assert job.id
    assert sim.counters.requests["submit"] == 2 and sim.counters.submits == 1
