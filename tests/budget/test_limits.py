"""A user's own limits: typed, validated, and kept on top of what the server allows."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from test_budget_window import headers, virtual_budget

from sora_async import AsyncSoraClient, InvalidRequestError, Limits
from sora_async.testing import ManualClock, simulated_client


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_limit": 2.5}, "rate_limit"),
        ({"rate_limit": True}, "rate_limit"),
        ({"rate_limit": "20"}, "rate_limit"),
        ({"rate_limit": 5, "rate_window": 0}, "rate_window"),
        ({"rate_limit": 5, "rate_window": float("nan")}, "rate_window"),
        ({"rate_window": 5.0}, "rate_window"),
        ({"concurrent_tasks": -1}, "concurrent_tasks"),
        ({"daily_limit": 0}, "daily_limit"),
    ],
)
def test_bad_limits_are_a_typed_error(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        Limits(**fields)
    assert caught.value.field == field


def test_limits_are_keyword_only_and_frozen() -> None:
    limits = Limits(rate_limit=8, rate_window=2.0, concurrent_tasks=2, daily_limit=10)
    with pytest.raises(TypeError):
        Limits(8)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        limits.rate_limit = 9  # type: ignore[misc]


def test_the_client_refuses_anything_but_limits() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        AsyncSoraClient(api_key="sk-test", limits={"rate_limit": 5})  # type: ignore[arg-type]
    assert caught.value.field == "limits"


pytestmark = pytest.mark.anyio


async def test_the_users_window_holds_even_when_the_server_allows_more() -> None:
    clock = ManualClock()
    budget = virtual_budget(clock, own=Limits(rate_limit=2, rate_window=10.0))
    seq = await budget.admit()
    await budget.observe(headers(clock, remaining=50, reset_in=60.0, limit=60), seq=seq)
    await budget.admit()
    assert clock() == 0
    await budget.admit()  # the server would take it; the user's own budget says wait
    assert clock() >= 10.0


async def test_a_higher_tier_replaces_the_published_prior() -> None:
    clock = ManualClock()
    budget = virtual_budget(clock, own=Limits(rate_limit=40, rate_window=60.0))
    for _ in range(40):  # published: 20 a minute
        await budget.admit()
    assert clock() == 0


async def test_own_concurrent_tasks_cap_the_active_jobs() -> None:
    async with simulated_client(
        provider="openai", time_scale=0.002, limits=Limits(concurrent_tasks=2), seed=3
    ) as client:
        result = await client.generate_batch([f"prompt {i}" for i in range(6)])
        assert len(result.completed) == 6
        assert client.simulator is not None
        assert client.simulator.counters.max_active_tasks == 2


async def test_own_daily_limit_skips_the_rest_before_sending() -> None:
    async with simulated_client(
        provider="openai", time_scale=0.002, limits=Limits(daily_limit=3)
    ) as client:
        result = await client.generate_batch([f"prompt {i}" for i in range(5)])
        assert client.simulator is not None
        assert client.simulator.counters.submits == 3
    assert len(result.completed) == 3
    assert len(result.skipped) == 2
    assert "daily limit" in str(result.skipped[0].error)


async def test_own_daily_limit_refuses_a_single_submit_past_it() -> None:
    async with simulated_client(provider="codefast", limits=Limits(daily_limit=1)) as client:
        await client.submit("one")
        with pytest.raises(Exception, match="daily limit"):
            await client.submit("two")
        assert client.simulator is not None
        assert client.simulator.counters.submits == 1


async def test_own_rate_limit_on_a_provider_that_publishes_none() -> None:
    # codefast publishes no rate limit; the user's is kept from the client's own sends.
    async with simulated_client(
        provider="codefast", limits=Limits(rate_limit=3, rate_window=1000.0)
    ) as client:
        for _ in range(3):
            await client.check_key()
        assert client.requests_sent == 3
        with anyio.move_on_after(0.5) as scope:  # a guard on the fourth, not a measurement
            await client.check_key()
        assert scope.cancelled_caught
        assert client.requests_sent == 3
