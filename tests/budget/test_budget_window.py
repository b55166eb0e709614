"""The rate window follows the server's headers; the published limits are only the prior.

Time here is virtual: the simulator and the budget read one :class:`ManualClock`, and the
budget's waits move it, so "how long did the batch take" is a count, not a race.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import anyio
import pytest

from sora_async import AsyncSoraClient, Limits, Quota
from sora_async._budget import RequestBudget, with_margin
from sora_async.providers.base import ProviderLimits
from sora_async.testing import ManualClock

pytestmark = pytest.mark.anyio

SORAVIDEO = ProviderLimits(rate_limit=20, rate_window=60.0, concurrent_limit=3)


def virtual_budget(
    clock: ManualClock,
    *,
    wall: Callable[[], float] | None = None,
    limits: ProviderLimits = SORAVIDEO,
    own: Limits | None = None,
    max_pause: float = 60.0,
) -> RequestBudget:
    """A budget whose waits move ``clock`` instead of passing real time."""

    async def advance(seconds: float) -> None:
        clock.advance(seconds)
        await anyio.lowlevel.checkpoint()

    return RequestBudget(
        limits,
        own=own,
        max_pause=max_pause,
        clock=clock,
        wall=wall or (lambda: 1_700_000_000.0 + clock()),
        sleep=advance,
    )


def headers(clock: ManualClock, *, remaining: int, reset_in: float, limit: int = 8) -> Quota:
    reset = datetime.fromtimestamp(1_700_000_000.0 + clock() + reset_in, UTC)
    return Quota(rate_limit=limit, rate_remaining=remaining, rate_reset=reset)


async def test_a_short_server_window_is_followed_not_the_published_minute() -> None:
    # The issue: a server allowing 8 requests per 2 s window. The budget used to learn the 8
    # but keep the documented 60 s window, so the 9th request waited a minute.
    clock = ManualClock()
    budget = virtual_budget(clock)
    for left in range(7, -1, -1):
        seq = await budget.admit()
        await budget.observe(headers(clock, remaining=left, reset_in=2.0), seq=seq)
    await budget.admit()
    assert clock() <= 2.1


async def test_remaining_allows_a_burst_and_nothing_past_it() -> None:
    clock = ManualClock()
    budget = virtual_budget(clock)
    seq = await budget.admit()
    await budget.observe(headers(clock, remaining=3, reset_in=5.0, limit=100), seq=seq)
    for _ in range(3):
        await budget.admit()
    assert clock() == 0  # three more fit what the server said remains
    await budget.admit()
    assert clock() >= 5.0  # the fourth waits for the server's reset


async def test_an_answer_older_than_the_one_we_have_does_not_widen_the_window() -> None:
    clock = ManualClock()
    budget = virtual_budget(clock)
    first, second = await budget.admit(), await budget.admit()
    await budget.observe(headers(clock, remaining=0, reset_in=3.0), seq=second)
    await budget.observe(headers(clock, remaining=6, reset_in=3.0), seq=first)  # late, older
    # The next request waits (on the virtual clock) for the newer answer's reset; past it,
    # no answer to a probe comes here, so the budget would then wait its fallback in real
    # time: stop looking once every task is blocked, only the clock matters.
    async with anyio.create_task_group() as group:
        group.start_soon(budget.admit)
        await anyio.wait_all_tasks_blocked()
        assert clock() >= 3.0  # through or still waiting: not before the reset
        group.cancel_scope.cancel()


async def test_without_headers_the_published_window_holds() -> None:
    clock = ManualClock()
    budget = virtual_budget(clock)
    for _ in range(20):
        await budget.admit()
    assert clock() == 0
    await budget.admit()
    assert clock() >= 60.0


async def test_after_the_reset_one_request_probes_and_its_answer_decides() -> None:
    clock = ManualClock()
    budget = virtual_budget(clock)
    seq = await budget.admit()
    await budget.observe(headers(clock, remaining=0, reset_in=2.0), seq=seq)
    probe = await budget.admit()  # after the reset: one goes
    assert 2.0 <= clock() < 2.1
    # A rolling window frees one slot at a time: the next waits for the probe's answer.
    async with anyio.create_task_group() as group:
        group.start_soon(budget.admit)
        await anyio.wait_all_tasks_blocked()
        await budget.observe(headers(clock, remaining=4, reset_in=1.0), seq=probe)
    assert clock() < 2.1


async def test_a_reset_years_away_is_capped_like_every_server_pause() -> None:
    clock = ManualClock()
    budget = virtual_budget(clock, max_pause=5.0)
    seq = await budget.admit()
    await budget.observe(headers(clock, remaining=0, reset_in=10 * 365 * 86400.0), seq=seq)
    await budget.admit()
    assert 5.0 <= clock() < 6.0


async def test_a_simulated_batch_against_an_8_per_2s_server_finishes_in_seconds() -> None:
    clock = ManualClock()
    client = AsyncSoraClient.simulated(
        provider="soravideo",
        time_scale=1.0,
        clock=clock,
        rate_limit=8,
        rate_window=2.0,
        service_time=(0.0, 0.0),
        pickup_delay=0.0,
        poll_interval=0.001,
        max_poll_interval=0.01,
    )
    simulator = client.simulator
    assert simulator is not None
    engine = simulator._engine
    client._budget = virtual_budget(
        clock, wall=lambda: engine.wall(clock()), max_pause=client._retry.max_retry_after
    )
    async with client:
        result = await client.generate_batch([f"prompt {i}" for i in range(9)])
    assert len(result.completed) == 9
    assert simulator.counters.rate_limited == 0
    # Virtual seconds the batch spent waiting on the rate window: a few 2 s windows, not
    # the published minute.
    assert clock() < 20.0, clock()


async def test_a_request_overtaken_on_the_way_is_not_taken_for_a_free_one() -> None:
    # Two requests on two connections: the second's answer comes first and says 1 remains,
    # but the first may not have reached the server yet. It is counted as spent.
    clock = ManualClock()
    budget = virtual_budget(clock)
    first, second = await budget.admit(), await budget.admit()
    await budget.observe(headers(clock, remaining=1, reset_in=3.0), seq=second)
    await budget.admit()
    assert clock() >= 3.0
    assert first < second


async def test_an_earlier_request_answered_first_may_still_have_arrived_second() -> None:
    # Seen under load: requests 68 and 69 reached the server after 70 and were answered
    # first; 70's answer, written before they arrived, said 7 remained when 5 did, and the
    # budget (which only took off requests still unanswered) drew a 429.
    clock = ManualClock()
    budget = virtual_budget(clock)
    first, second = await budget.admit(), await budget.admit()
    await budget.observe(headers(clock, remaining=1, reset_in=3.0), seq=first)  # arrived 2nd
    await budget.observe(headers(clock, remaining=2, reset_in=3.0), seq=second)  # written 1st
    await budget.admit()
    assert clock() == 0  # the one request that truly remains
    await budget.admit()
    assert clock() >= 3.0


async def test_an_earlier_request_already_answered_is_not_counted_twice() -> None:
    # Answered before the second was sent: the server had it when it counted the second.
    clock = ManualClock()
    budget = virtual_budget(clock)
    first = await budget.admit()
    await budget.observe(None, seq=first)  # answered, whatever it said
    second = await budget.admit()
    await budget.observe(headers(clock, remaining=1, reset_in=3.0), seq=second)
    await budget.admit()
    assert clock() == 0


async def test_a_late_answer_pushes_its_slot_in_the_published_window() -> None:
    # Seen under load: the server counts a request from when it received it, which can be
    # long after we sent it; its answer is the one moment we know it had. Without headers,
    # 20 a minute: all sent at 0 s, answered at 10 s, so the first slot frees at 70 s, not 60.
    clock = ManualClock()
    budget = virtual_budget(clock)
    sent = [await budget.admit() for _ in range(20)]
    clock.advance(10.0)
    for seq in sent:
        await budget.observe(None, seq=seq)
    await budget.admit()
    assert clock() >= 70.0


async def test_a_signal_wakes_its_waiters_and_only_them() -> None:
    from sora_async._budget import _Signal

    signal = _Signal()
    signal.notify()  # nobody waits: nothing is kept for a later waiter
    woken: list[int] = []

    async def waiter(n: int) -> None:
        await signal.wait()
        woken.append(n)

    async with anyio.create_task_group() as group:
        group.start_soon(waiter, 1)
        group.start_soon(waiter, 2)
        await anyio.wait_all_tasks_blocked()
        assert woken == []
        signal.notify()
        await anyio.wait_all_tasks_blocked()
        assert sorted(woken) == [1, 2]
        group.start_soon(waiter, 3)  # after the notify: waits for the next one
        await anyio.wait_all_tasks_blocked()
        assert sorted(woken) == [1, 2]
        signal.notify()
    assert sorted(woken) == [1, 2, 3]


def test_unanswered_requests_are_forgotten_after_the_horizon_and_only_then() -> None:
    from sora_async._budget import Unanswered

    clock = ManualClock()
    unanswered = Unanswered(clock, horizon=120.05)
    for seq in range(1, 3001):  # 10 a second for 300 s; every third one never answered
        unanswered.sent(seq)
        if seq % 3:
            unanswered.answered(seq)
        clock.advance(0.1)
    # Remembered: the requests of the last 120 s (numbers 1800 to 3000), no older one.
    assert sorted(unanswered._sent) == list(range(1800, 3001, 3))
    assert sorted(unanswered._overlap) == list(range(1800, 3001))
    # The last one was sent while those still out (not the older ones) were in flight.
    assert unanswered.before(3000) == len(range(1800, 3000, 3))


async def test_a_cancelled_caller_is_not_admitted_even_with_nothing_to_wait_for() -> None:
    budget = RequestBudget(ProviderLimits())
    assert await budget.admit() == 1  # free: admitted at once
    with anyio.CancelScope() as scope:
        scope.cancel()
        await budget.admit()
    assert scope.cancelled_caught
    assert await budget.admit() == 2  # the cancelled call took no number


async def test_without_a_published_rate_limit_the_window_keeps_only_its_own_worth() -> None:
    # codefast publishes no rate limit: the window still dates each request (a limit may be
    # heard later), but a client polling all day must not keep every one it ever sent.
    clock = ManualClock()
    budget = virtual_budget(clock, limits=ProviderLimits(daily_limit=20))
    window = budget._rate.prior
    for _ in range(3000):  # 10 a second for 300 s, each answered at once
        budget._rate.answered(await budget.admit())
        clock.advance(0.1)
    # What the last window (with its margin) holds, and nothing older.
    horizon = clock() - 0.1 - with_margin(window.window)
    assert window._dated and min(window._dated.values()) > horizon
    assert len(window._dated) <= 10 * with_margin(window.window) + 1
