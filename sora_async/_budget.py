"""The request budget one client shares across submits and polls (in this process; the
same budget shared by several processes lives in :mod:`sora_async.state`).

Three limits, learned from what the provider says and started from what it publishes:

* a rolling request window. The server's rate-limit headers are the truth: while they
  arrive, ``remaining`` requests go until ``reset``, then one more, whose answer says what
  next. The published window (soravideo: 20 a minute) is only the prior, kept locally from
  our own send times when no header says otherwise; a user's own :class:`~sora_async.Limits`
  replace it and are kept in every case;
* a concurrent-task gate (soravideo: 3 tasks): a submit waits for a free slot instead of
  drawing error 2002;
* the daily quota, by reservation: a submit reserves a slot before it is sent, so concurrent
  submits can never overshoot ``daily_remaining`` (nor the user's own daily limit).

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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio

from ._errors import DailyLimitError
from ._limits import Limits
from ._models import Job, Quota
from .providers.base import ProviderLimits

__all__ = [
    "PauseCap",
    "RequestBudget",
    "Ticket",
    "Unanswered",
    "daily_spent_error",
    "next_utc_midnight",
    "with_margin",
]

logger = logging.getLogger("sora_async")


def next_utc_midnight(now: datetime | None = None) -> datetime:
    """When a provider's day starts again (both seed providers reset at midnight UTC)."""
    now = now or datetime.now(UTC)
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def daily_spent_error(reset_at: datetime | None) -> DailyLimitError:
    """The error for a submit refused before sending: the day's quota is spent."""
    reset = reset_at or next_utc_midnight()
    error = DailyLimitError(
        f"daily limit reached: no submissions left today (resets {reset.isoformat()}); not sent",
        status_code=429,
    )
    error.reset_at = reset
    return error


class _Signal:
    """Wake every task waiting for "something changed"."""

    def __init__(self) -> None:
        # Made by the first waiter: most notifications (one per answer) find nobody
        # waiting, and then cost nothing.
        self._event: anyio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self) -> None:
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()


def with_margin(seconds: float) -> float:
    """A window or wait as the server counts it: from when it received each request, so a
    little later than we sent it."""
    return seconds + max(0.02 * seconds, 0.005)


class Unanswered:
    """Requests sent and not yet answered, by number.

    An answer's ``remaining`` counts what the server had received when it wrote it. Requests
    travel on several connections, so one numbered earlier may reach the server later and
    not be in it, even if its own answer came back first. Those are among the requests
    still unanswered when the answered one was sent, so that many are taken off what
    remains. One that never gets an answer is forgotten after ``horizon``.
    """

    def __init__(self, clock: Callable[[], float], horizon: float = 120.0) -> None:
        self._clock = clock
        self._horizon = horizon
        self._sent: dict[int, float] = {}
        # Per request: when it was sent, and how many were then in flight (numbered before).
        self._overlap: dict[int, tuple[float, int]] = {}
        # Every request of the horizon in sending order, so that forgetting the old ones
        # looks at those alone. (Rebuilding the tables instead ran on every request once
        # the first answers went unread: the overlap of an answer without rate headers is
        # never read, so after two minutes each request cost a copy of two minutes' worth.)
        self._order: deque[tuple[float, int]] = deque()

    def sent(self, seq: int) -> None:
        now = self._clock()
        self._overlap[seq] = (now, len(self._sent))
        self._sent[seq] = now
        self._order.append((now, seq))
        order, forgotten = self._order, now - self._horizon
        while order[0][0] < forgotten:
            _, old = order.popleft()
            self._overlap.pop(old, None)
            self._sent.pop(old, None)

    def answered(self, seq: int) -> None:
        self._sent.pop(seq, None)

    def before(self, seq: int) -> int:
        """How many requests numbered before ``seq`` its answer may not count."""
        still_out = sum(1 for n in self._sent if n < seq)
        sent = self._overlap.pop(seq, None)
        return still_out if sent is None else max(sent[1], still_out)


class _LocalWindow:
    """A rolling window kept from our own requests, each dated from when we sent it and,
    once answered, from its answer: the server counts it from when it received it, which
    a busy machine can delay well past the send (and past :func:`with_margin`)."""

    def __init__(self, limit: int | None, window: float) -> None:
        self.limit = limit
        self.window = window
        self._dated: dict[int, float] = {}

    def wait(self, now: float) -> float:
        if not self.limit:
            return 0.0
        horizon = with_margin(self.window)
        live = sorted(t for t in self._dated.values() if t > now - horizon)
        if len(live) >= self.limit:
            return live[-self.limit] + horizon - now
        return 0.0

    def record(self, seq: int, now: float) -> None:
        dated = self._dated
        dated[seq] = now
        # Forget from the oldest sent: what has left the window, and beyond four limits'
        # worth. Without a limit (none published, none heard yet) only the window's worth
        # is kept: a client polling for days would otherwise keep every request.
        horizon = now - with_margin(self.window)
        while dated:
            first = next(iter(dated))
            if dated[first] > horizon and not (self.limit and len(dated) > 4 * self.limit):
                break
            del dated[first]

    def answered(self, seq: int, now: float) -> None:
        if seq in self._dated:
            self._dated[seq] = max(self._dated[seq], now)


@dataclass(slots=True)
class _ServerView:
    """What the newest answer's rate-limit headers said: ``remaining`` requests until
    ``reset`` (our clock), counted up to the request numbered ``seq``."""

    remaining: int
    reset: float
    seq: int
    span: float
    probes: int = 0


class _RateWindow:
    """Admission by the rate window.

    While the server's headers arrive they are the truth: ``remaining`` requests may go
    (less those we sent after the answer that said so) until ``reset``; after ``reset`` the
    server's window has moved on by at least one request, so one more goes and its answer
    says what next. Without headers the published window (or the user's) is kept locally
    from our own send times. The user's own window is kept in every case.
    """

    def __init__(
        self,
        prior: _LocalWindow,
        own: _LocalWindow | None,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.prior = prior
        self.own = own
        self.view: _ServerView | None = None
        self.seq = 0
        self._paused_until = -math.inf
        self._clock = clock
        self._sleep = sleep
        self._heard = _Signal()
        self._lock = anyio.Lock(fast_acquire=True)  # no event-loop trip when free
        self.unanswered = Unanswered(clock)

    def answered(self, seq: int) -> None:
        """Request ``seq`` was answered: the server has certainly counted it by now."""
        self.unanswered.answered(seq)
        now = self._clock()
        for window in (self.prior, self.own):
            if window is not None:
                window.answered(seq, now)

    def pause_until(self, when: float) -> None:
        self._paused_until = max(self._paused_until, when)

    def heard(self, remaining: int, reset: float, seq: int) -> None:
        """An answer's headers (the request numbered ``seq``): the newest one wins."""
        if seq < 0 or (self.view is not None and seq < self.view.seq):
            return  # an older answer arriving late says less than the one we have
        span = max(0.0, reset - self._clock())
        remaining -= self.unanswered.before(seq)
        self.view = _ServerView(remaining=remaining, reset=reset, seq=seq, span=span)
        self._heard.notify()

    def _wait_for(self, now: float) -> tuple[float, bool]:
        """How long to wait, and whether a new answer may end the wait sooner."""
        wait = self._paused_until - now
        if self.own is not None:
            wait = max(wait, self.own.wait(now))
        view = self.view
        if view is None:
            return max(wait, self.prior.wait(now)), False
        sent_since = self.seq - view.seq
        if now < view.reset:
            if view.remaining - sent_since <= 0:
                wait = max(wait, view.reset - now)
            return wait, False
        if view.remaining + 1 + view.probes - sent_since > 0:
            return wait, False
        # The probe is out: wait for its answer, or (if none comes with headers) as long as
        # the published window says, then try one more.
        fallback = max(self.prior.wait(now), view.span, 0.001)
        return max(wait, fallback), wait <= 0

    async def admit(self) -> int:
        """Wait until one more request may go; returns its number (ordering answers)."""
        # One admission at a time keeps the order fair (first come, first sent).
        async with self._lock:
            while True:
                wait, wake_early = self._wait_for(self._clock())
                if wait <= 0:
                    break
                if not wake_early:
                    await self._sleep(wait)
                    continue
                view = self.view
                with anyio.move_on_after(wait) as scope:
                    await self._heard.wait()
                if scope.cancelled_caught and view is self.view and view is not None:
                    view.probes += 1  # no answer told us more: try one more request
            now = self._clock()
            self.seq += 1
            for window in (self.prior, self.own):
                if window is not None:
                    window.record(self.seq, now)
            self.unanswered.sent(self.seq)
            return self.seq


class _TaskGate:
    def __init__(self, limit: int | None, cap: int | None) -> None:
        self.limit = limit
        self.cap = cap  # the user's own, kept whatever the server says
        self.active: set[str] = set()
        self.pending = 0
        self._changed = _Signal()

    @property
    def effective(self) -> int | None:
        known = [n for n in (self.limit, self.cap) if n]
        return min(known) if known else None

    async def acquire(self, *, wait: bool) -> None:
        while wait and (limit := self.effective) and len(self.active) + self.pending >= limit:
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
    def __init__(
        self, limit: int | None, cap: int | None, *, today: Callable[[], datetime]
    ) -> None:
        self.server_counts = limit is not None  # the provider counts submits against a quota
        self.remaining: int | None = None
        self.reset_at: datetime | None = None
        self.in_flight = 0
        self.cap = cap  # the user's own: submissions a day, counted here
        self._used = 0
        self._today = today
        self._day_ends = next_utc_midnight(today())
        self._newest_seq = -1
        self._changed = _Signal()

    def observe(self, quota: Quota, seq: int) -> None:
        if quota.daily_limit is not None:
            self.server_counts = True
        if quota.daily_reset is not None:
            self.reset_at = quota.daily_reset
        value = quota.daily_remaining
        if value is None:
            return
        self.server_counts = True
        newest = seq > self._newest_seq
        self._newest_seq = max(seq, self._newest_seq)
        # Remaining only falls during a day. A higher value is a new day, believed only from
        # the newest answer while no submit is out (an older answer may still be arriving).
        if self.remaining is None or value < self.remaining or (newest and self.in_flight == 0):
            self.remaining = value
        self._changed.notify()

    @property
    def applies(self) -> bool:
        return self.server_counts or self.cap is not None

    def exhausted(self, reset_at: datetime | None) -> None:
        self.server_counts = True
        self.remaining = 0
        self.reset_at = reset_at or self.reset_at
        self._changed.notify()

    def _own_left(self) -> int | None:
        if self.cap is None:
            return None
        now = self._today()
        if now >= self._day_ends:
            self._used, self._day_ends = 0, next_utc_midnight(now)
        return self.cap - self._used - self.in_flight

    def _server_allows(self) -> bool:
        if self.remaining is None:
            # Unknown: the first answer will tell us the quota, so send one alone.
            return not self.server_counts or self.in_flight == 0
        return self.remaining - self.in_flight > 0

    async def reserve(self) -> None:
        while self.applies:
            own = self._own_left()
            if own is not None and own <= 0:
                if self.in_flight == 0:
                    raise daily_spent_error(self._day_ends)
            elif self._server_allows():
                break
            elif self.in_flight == 0:
                raise daily_spent_error(self.reset_at)
            await self._changed.wait()
        self.in_flight += 1

    def settle(self, *, spent: bool, counted_by_server: bool) -> None:
        self.in_flight -= 1
        if spent:
            self._used += 1
            if not counted_by_server and self.remaining is not None:
                self.remaining = max(0, self.remaining - 1)
        self._changed.notify()


class PauseCap:
    """The cap on every pause a server asks for, logged once per capped pause."""

    def __init__(self, max_pause: float) -> None:
        self.max_pause = max_pause
        self._warned_until = -math.inf

    def capped(self, seconds: float, source: str, now: float) -> float | None:
        """The pause to keep (``None``: none); ``now`` is any clock in seconds."""
        if not seconds > 0:
            return None  # also NaN
        if seconds <= self.max_pause:
            return seconds
        if now >= self._warned_until:  # once for each capped pause, not per answer
            logger.warning(
                "the server asked to pause every request for %.0f s (%s); pausing %.3g s "
                "instead, the cap",
                seconds,
                source,
                self.max_pause,
            )
        self._warned_until = now + self.max_pause
        return self.max_pause


class RequestBudget:
    """Admission for every request of one client, and reservations for submits.

    ``limits`` are the provider's published ones (the prior); ``own`` the user's
    (:class:`~sora_async.Limits`), which replace the published numbers and are kept even
    when the server's headers allow more. ``clock``, ``wall`` and ``sleep`` are seams for
    tests that move time by hand.
    """

    def __init__(
        self,
        limits: ProviderLimits,
        *,
        own: Limits | None = None,
        max_pause: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        own = own or Limits()
        prior = _LocalWindow(
            own.rate_limit or limits.rate_limit, own.rate_window or limits.rate_window
        )
        mine = own.rate_limit is not None or own.rate_window is not None
        self._rate = _RateWindow(
            prior,
            _LocalWindow(prior.limit, prior.window) if mine else None,
            clock=clock,
            sleep=sleep,
        )
        self._clock = clock
        self._wall = wall
        self._max_pause = max_pause
        self._cap = PauseCap(max_pause)
        self._tasks = _TaskGate(
            own.concurrent_tasks or limits.concurrent_limit, own.concurrent_tasks
        )
        self._daily = _DailyQuota(
            limits.daily_limit,
            own.daily_limit,
            today=lambda: datetime.fromtimestamp(wall(), UTC),
        )

    @property
    def active_tasks(self) -> int:
        return len(self._tasks.active)

    @property
    def limits_tasks(self) -> bool:
        """Whether a concurrent-task limit is known (jobs must be followed to free slots)."""
        return bool(self._tasks.effective)

    @property
    def daily_remaining(self) -> int | None:
        return self._daily.remaining

    @property
    def daily_limited(self) -> bool:
        """Whether submits are counted against a daily quota this client knows of."""
        return self._daily.applies

    async def open(self) -> None:
        """Nothing to connect: the state is this object."""

    async def run(self) -> None:
        """Nothing to keep up."""

    async def aclose(self) -> None:
        """Nothing to close."""

    async def admit(self) -> int:
        """Wait until one more request fits the rate window; returns its sequence number."""
        return await self._rate.admit()

    async def observe(self, quota: Quota | None, *, seq: int) -> None:
        """Learn from the answer to request ``seq`` (``None``: it said nothing of quotas)."""
        self._rate.answered(seq)
        if quota is None:
            return
        if quota.rate_limit:
            self._rate.prior.limit = quota.rate_limit
        if quota.rate_remaining is not None and quota.rate_reset is not None:
            wait = quota.rate_reset.timestamp() - self._wall()
            if quota.rate_remaining <= 0:
                self._pause(wait, "its rate-limit reset time")
            # The same cap as the pause: a reset years away is not believed either.
            reset = self._clock() + with_margin(min(max(wait, 0.0), self._max_pause))
            self._rate.heard(quota.rate_remaining, reset, seq)
        if quota.concurrent_limit:
            self._tasks.limit = quota.concurrent_limit
        self._daily.observe(quota, seq)

    async def back_off(self, seconds: float) -> None:
        """The server said "too many requests": nobody sends for ``seconds`` (capped)."""
        self._pause(seconds, "Retry-After")

    def _pause(self, seconds: float, source: str) -> None:
        now = self._clock()
        capped = self._cap.capped(seconds, source, now)
        if capped is not None:
            self._rate.pause_until(now + capped)

    async def daily_exhausted(self, reset_at: datetime | None) -> None:
        self._daily.exhausted(reset_at)

    def job_finished(self, job_id: str) -> None:
        """A tracked job reached a terminal state: its concurrent-task slot is free."""
        self._tasks.finished(job_id)

    async def look(
        self,
        job_id: str,
        poll: Callable[[], Awaitable[tuple[Job, float | None]]],
        *,
        fresh_for: float,
    ) -> tuple[Job, float | None]:
        """One process: the scheduler already shares one poll stream per job."""
        return await poll()

    @asynccontextmanager
    async def submission(self, *, wait_for_task_slot: bool = True) -> AsyncIterator[Ticket]:
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
        ticket = Ticket()
        try:
            yield ticket
        finally:
            spent = ticket.job_id is not None or ticket.maybe_spent
            self._daily.settle(spent=spent, counted_by_server=ticket.counted_by_server)
            self._tasks.settle(ticket.job_id)


class Ticket:
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
