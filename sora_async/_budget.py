"""The request budget one client shares across submits and polls.

Three limits, learned from what the provider says and started from what it publishes:

* a rolling request window (soravideo: 20 a minute), kept locally from our own send times and
  corrected by ``X-RateLimit-*`` headers and ``Retry-After``;
* a concurrent-task gate (soravideo: 3 tasks): a submit waits for a free slot instead of
  drawing error 2002;
* the daily quota, by reservation: a submit reserves a slot before it is sent, so concurrent
  submits can never overshoot ``daily_remaining``.

Every pause the server asks for (``X-RateLimit-Reset`` with nothing remaining, openai's
``x-ratelimit-reset-requests``, ``Retry-After`` on a 429) is capped at ``max_pause``: one
answer saying "come back in the year 9999" must not freeze the client. A capped pause is
logged once, at WARNING.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import anyio

from ._errors import DailyLimitError
from ._models import Quota
from .providers.base import ProviderLimits

__all__ = ["RequestBudget", "next_utc_midnight"]

logger = logging.getLogger("sora_async")


def next_utc_midnight(now: datetime | None = None) -> datetime:
    """When a provider's day starts again (both seed providers reset at midnight UTC)."""
    now = now or datetime.now(UTC)
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


class _Signal:
    """Wake every task waiting for "something changed"."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def wait(self) -> None:
        await self._event.wait()


class _RateWindow:
    def __init__(self, limit: int | None, window: float) -> None:
        self.limit = limit
        self.window = window
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = anyio.Lock(fast_acquire=True)  # no event-loop trip when free

    def pause_until(self, when: float) -> None:
        self._paused_until = max(self._paused_until, when)

    def _wait_for(self, now: float) -> float:
        wait = self._paused_until - now
        if self.limit:
            # The server counts from when it received each request: leave a little margin.
            horizon = self.window + max(0.02 * self.window, 0.005)
            while self._sent and self._sent[0] <= now - horizon:
                self._sent.popleft()
            if len(self._sent) >= self.limit:
                wait = max(wait, self._sent[-self.limit] + horizon - now)
        return wait

    async def admit(self) -> None:
        # One admission at a time keeps the order fair (first come, first sent).
        async with self._lock:
            # A time-based wait: nothing signals when the window frees up.
            while (wait := self._wait_for(time.monotonic())) > 0:  # noqa: ASYNC110
                await anyio.sleep(wait)
            self._sent.append(time.monotonic())
            if self.limit and len(self._sent) > 4 * self.limit:
                self._sent.popleft()


class _TaskGate:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.active: set[str] = set()
        self.pending = 0
        self._changed = _Signal()

    async def acquire(self, *, wait: bool) -> None:
        while wait and self.limit and len(self.active) + self.pending >= self.limit:
            await self._changed.wait()
        self.pending += 1

    def settle(self, job_id: str | None) -> None:
        self.pending -= 1
        if job_id is not None:
            self.active.add(job_id)
        self._changed.notify()

    def finished(self, job_id: str) -> None:
        if job_id in self.active:
            self.active.discard(job_id)
            self._changed.notify()


class _DailyQuota:
    def __init__(self, limit: int | None) -> None:
        self.applies = limit is not None
        self.remaining: int | None = None
        self.reset_at: datetime | None = None
        self.in_flight = 0
        self._newest_seq = -1
        self._changed = _Signal()

    def observe(self, quota: Quota, seq: int) -> None:
        if quota.daily_limit is not None:
            self.applies = True
        if quota.daily_reset is not None:
            self.reset_at = quota.daily_reset
        value = quota.daily_remaining
        if value is None:
            return
        newest = seq > self._newest_seq
        self._newest_seq = max(seq, self._newest_seq)
        # Remaining only falls during a day. A higher value is a new day, believed only from
        # the newest answer while no submit is out (an older answer may still be arriving).
        if self.remaining is None or value < self.remaining or (newest and self.in_flight == 0):
            self.remaining = value
        self._changed.notify()

    def exhausted(self, reset_at: datetime | None) -> None:
        self.applies = True
        self.remaining = 0
        self.reset_at = reset_at or self.reset_at
        self._changed.notify()

    async def reserve(self) -> None:
        while self.applies:
            if self.remaining is None:
                if self.in_flight == 0:
                    break  # the first answer will tell us the quota: send one alone
            elif self.remaining - self.in_flight > 0:
                break
            elif self.in_flight == 0:
                raise self._spent_error()
            await self._changed.wait()
        self.in_flight += 1

    def settle(self, *, spent: bool, counted_by_server: bool) -> None:
        self.in_flight -= 1
        if spent and not counted_by_server and self.remaining is not None:
            self.remaining = max(0, self.remaining - 1)
        self._changed.notify()

    def _spent_error(self) -> DailyLimitError:
        reset = self.reset_at or next_utc_midnight()
        error = DailyLimitError(
            f"daily limit reached: no submissions left today (resets {reset.isoformat()}); "
            "not sent",
            status_code=429,
        )
        error.reset_at = reset
        return error


class RequestBudget:
    """Admission for every request of one client, and reservations for submits."""

    def __init__(self, limits: ProviderLimits, *, max_pause: float = 60.0) -> None:
        self._rate = _RateWindow(limits.rate_limit, limits.rate_window)
        self._max_pause = max_pause
        self._warned_until = -math.inf
        self._tasks = _TaskGate(limits.concurrent_limit)
        self._daily = _DailyQuota(limits.daily_limit)
        self._seq = 0

    @property
    def active_tasks(self) -> int:
        return len(self._tasks.active)

    @property
    def limits_tasks(self) -> bool:
        """Whether a concurrent-task limit is known (jobs must be followed to free slots)."""
        return bool(self._tasks.limit)

    @property
    def daily_remaining(self) -> int | None:
        return self._daily.remaining

    @property
    def daily_limited(self) -> bool:
        """Whether submits are counted against a daily quota this client knows of."""
        return self._daily.applies

    async def admit(self) -> int:
        """Wait until one more request fits the rate window; returns its sequence number."""
        await self._rate.admit()
        self._seq += 1
        return self._seq

    def observe(self, quota: Quota | None, *, seq: int) -> None:
        """Learn from one answer's quota fields (``seq`` orders answers by send time)."""
        if quota is None:
            return
        if quota.rate_limit:
            self._rate.limit = quota.rate_limit
        if quota.rate_remaining is not None and quota.rate_remaining <= 0 and quota.rate_reset:
            wait = (quota.rate_reset - datetime.now(UTC)).total_seconds()
            self._pause(wait, "its rate-limit reset time")
        if quota.concurrent_limit:
            self._tasks.limit = quota.concurrent_limit
        self._daily.observe(quota, seq)

    def back_off(self, seconds: float) -> None:
        """The server said "too many requests": nobody sends for ``seconds`` (capped)."""
        self._pause(seconds, "Retry-After")

    def _pause(self, seconds: float, source: str) -> None:
        now = time.monotonic()
        if not seconds > 0:
            return  # also NaN
        if seconds > self._max_pause:
            if now >= self._warned_until:  # once for each capped pause, not per answer
                logger.warning(
                    "the server asked to pause every request for %.0f s (%s); pausing %.3g s "
                    "instead, the cap",
                    seconds,
                    source,
                    self._max_pause,
                )
            self._warned_until = now + self._max_pause
            seconds = self._max_pause
        self._rate.pause_until(now + seconds)

    def daily_exhausted(self, reset_at: datetime | None) -> None:
        self._daily.exhausted(reset_at)

    def job_finished(self, job_id: str) -> None:
        """A tracked job reached a terminal state: its concurrent-task slot is free."""
        self._tasks.finished(job_id)

    @asynccontextmanager
    async def submission(self, *, wait_for_task_slot: bool = True) -> AsyncIterator[_Ticket]:
        """Reserve a daily slot and a task slot for one submit.

        Raises :class:`DailyLimitError` before sending when the day's quota is spent. Without
        ``wait_for_task_slot`` (nothing follows the jobs, so no slot would ever free up) the
        server's own concurrency answer is left to the retry policy.
        """
        await self._daily.reserve()
        try:
            await self._tasks.acquire(wait=wait_for_task_slot)
        except BaseException:
            self._daily.settle(spent=False, counted_by_server=False)
            raise
        ticket = _Ticket()
        try:
            yield ticket
        finally:
            spent = ticket.job_id is not None or ticket.maybe_spent
            self._daily.settle(spent=spent, counted_by_server=ticket.counted_by_server)
            self._tasks.settle(ticket.job_id)


class _Ticket:
    """What became of one reserved submit."""

    def __init__(self) -> None:
        self.job_id: str | None = None
        self.counted_by_server = False
        self.maybe_spent = False

    def accepted(self, job_id: str, *, counted_by_server: bool) -> None:
        self.job_id = job_id
        self.counted_by_server = counted_by_server

    def unknown(self) -> None:
        # Assume the quota was spent: undercounting could overshoot the limit.
        self.maybe_spent = True
