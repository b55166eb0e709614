"""The request budget of one API key, in Redis: shared by every client of every process.

What lives in Redis, under a namespace no one can trace back to the key (an HMAC of the
provider, base URL and key, keyed by the key):

* ``:seq``, ``:prior``, ``:own``, ``:view``, ``:pause``, ``:limit`` — the rolling request
  window, kept by one Lua script per admission (atomic across processes), the server's last
  rate-limit headers, and the pause after a 429 (one process learns it, all obey);
* ``:tasks`` — the concurrent-task slots, a sorted set of leases (job ids, or a reservation
  while a submit is out) scored by expiry: a slot frees when its job ends, and a crashed
  process's leases lapse because nobody renews them;
* ``:day:<UTC date>:used|res|remaining`` — the daily reservations, a new set of keys at the
  provider's day boundary, corrected by what the server reports.

Every time is Redis's own (``TIME``): clocks of different machines never meet.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import anyio

from .._budget import PauseCap, Ticket, Unanswered, daily_spent_error, with_margin
from .._errors import InvalidRequestError
from .._limits import Limits
from .._models import Job, Quota
from ..providers.base import ProviderLimits
from ._base import Poll, SharedStateError

__all__ = ["RedisBudget", "namespace_for", "redis_module"]

logger = logging.getLogger("sora_async")

SCHEMES = ("redis", "rediss", "unix")


def redis_module() -> Any:
    """``redis.asyncio``, or a one-line error naming the extra to install."""
    try:
        import redis.asyncio
    except ImportError:  # pragma: no cover - the extra is installed in the test env
        raise InvalidRequestError(
            "needs the redis extra: pip install 'sora-async[redis]'", field="shared_state"
        ) from None
    return redis.asyncio


def namespace_for(provider: str, base_url: str, api_key: str) -> str:
    """The Redis key prefix for one key on one service; the key never appears in clear."""
    digest = hmac.new(api_key.encode(), f"{provider}\n{base_url}".encode(), hashlib.sha256)
    return f"sora_async:{digest.hexdigest()[:32]}"


def shown(url: str) -> str:
    """A shared-state URL fit for a message: no password."""
    scheme, _, rest = url.partition("://")
    host = rest.rpartition("@")[2].split("/", 1)[0] if scheme != "unix" else rest.split("?")[0]
    return f"{scheme}://{host}"


# Redis's clock in milliseconds, and the rolling window of a key (limit <= 0: none).
_COMMON = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function window_wait(key, limit, span)
  if limit <= 0 then return 0 end
  local horizon = span + math.max(math.floor(span * 0.02), 5)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - horizon)
  local n = redis.call('ZCARD', key)
  if n < limit then return 0 end
  local oldest = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
  return tonumber(oldest[2]) + horizon - now
end
"""

# ARGV: published limit, published window ms, own limit (0: none), own window ms.
# Returns {1, seq} when admitted, {0, wait ms, 1 if a new answer may end the wait sooner}.
_ADMIT = (
    _COMMON
    + """
local ns = KEYS[1]
local prior_limit = tonumber(redis.call('GET', ns .. ':limit') or ARGV[1])
local prior_span, own_limit, own_span = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local wait, early = 0, 0
local pause = tonumber(redis.call('GET', ns .. ':pause') or '0')
if pause > now then wait = pause - now end
wait = math.max(wait, window_wait(ns .. ':own', own_limit, own_span))
local seq = tonumber(redis.call('GET', ns .. ':seq') or '0')
local v = redis.call('HMGET', ns .. ':view', 'remaining', 'reset', 'seq', 'probes', 'span', 'stale')
if v[1] then
  local remaining, reset, vseq = tonumber(v[1]), tonumber(v[2]), tonumber(v[3])
  local probes, span = tonumber(v[4] or '0'), tonumber(v[5] or '0')
  local since = seq - vseq
  if now < reset then
    if remaining - since <= 0 then wait = math.max(wait, reset - now) end
  elseif remaining + 1 + probes - since <= 0 then
    -- the probe is out: wait for its answer, or as long as the published window says
    local stale = tonumber(v[6] or '0')
    if stale == 0 then
      stale = now
      redis.call('HSET', ns .. ':view', 'stale', now)
    end
    local fallback = math.max(window_wait(ns .. ':prior', prior_limit, prior_span), span, 1)
    if now - stale >= fallback then
      redis.call('HINCRBY', ns .. ':view', 'probes', 1)
      redis.call('HSET', ns .. ':view', 'stale', now)
    else
      wait = math.max(wait, stale + fallback - now)
      early = 1
    end
  end
else
  wait = math.max(wait, window_wait(ns .. ':prior', prior_limit, prior_span))
end
if wait > 0 then return {0, wait, early} end
seq = redis.call('INCR', ns .. ':seq')
local keep = math.max(prior_span, own_span) * 2 + 60000
for _, name in ipairs({':prior', ':own'}) do
  local key = ns .. name
  redis.call('ZADD', key, now, seq)
  redis.call('ZREMRANGEBYRANK', key, 0, -(4 * math.max(prior_limit, own_limit, 1) + 1))
  redis.call('PEXPIRE', key, keep)
end
redis.call('PEXPIRE', ns .. ':seq', 86400000)
return {1, seq}
"""
)

# The server's headers from the answer to request ARGV[3]: the newest answer wins.
_HEARD = (
    _COMMON
    + """
local ns = KEYS[1]
local remaining, wait, seq = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local known = tonumber(redis.call('HGET', ns .. ':view', 'seq') or '-1')
if seq < known then return 0 end
redis.call('DEL', ns .. ':view')
redis.call('HSET', ns .. ':view', 'remaining', remaining, 'reset', now + wait, 'seq', seq,
  'span', wait, 'probes', 0, 'stale', 0)
redis.call('PEXPIRE', ns .. ':view', wait + 600000)
if tonumber(ARGV[4]) > 0 then redis.call('SET', ns .. ':limit', ARGV[4], 'PX', 86400000) end
return 1
"""
)

_PAUSE = (
    _COMMON
    + """
local key = KEYS[1] .. ':pause'
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', key) or '0') then
  redis.call('SET', key, until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return 1
"""
)

# ARGV: published or learned limit (0: none), own cap (0: none), member, lease ms.
_TAKE_SLOT = (
    _COMMON
    + """
local key = KEYS[1] .. ':tasks'
local limit = tonumber(redis.call('GET', KEYS[1] .. ':tasklimit') or ARGV[1])
local cap = tonumber(ARGV[2])
if cap > 0 and (limit <= 0 or cap < limit) then limit = cap end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if limit > 0 and redis.call('ZCARD', key) >= limit then return 0 end
redis.call('ZADD', key, now + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', key, tonumber(ARGV[4]) * 4)
return 1
"""
)

# Renew leases still held (XX: a lapsed one is not brought back); ARGV: lease ms, members.
_RENEW = (
    _COMMON
    + """
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do
  for _, key in ipairs(KEYS) do redis.call('ZADD', key, 'XX', now + lease, ARGV[i]) end
end
return 1
"""
)

# A submit's reservation becomes its job's lease (ARGV[2] empty: no job, the slot frees).
_HAND = (
    _COMMON
    + """
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2]) end
return 1
"""
)

# KEYS: used, res, remaining, counts. ARGV: own cap (0: none), server counts (0/1),
# member, lease ms. Returns 1 reserved, 0 wait, -1 spent by the own cap, -2 spent (server).
_RESERVE = (
    _COMMON
    + """
local used_key, res_key, remaining_key, counts_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
redis.call('ZREMRANGEBYSCORE', res_key, '-inf', now)
local in_flight = redis.call('ZCARD', res_key)
local cap = tonumber(ARGV[1])
if cap > 0 and cap - tonumber(redis.call('GET', used_key) or '0') - in_flight <= 0 then
  if in_flight == 0 then return -1 end
  return 0
end
local counts = tonumber(ARGV[2]) > 0 or redis.call('EXISTS', counts_key) == 1
if counts then
  local remaining = redis.call('GET', remaining_key)
  if remaining == false then
    if in_flight > 0 then return 0 end  -- the first answer tells the quota: one alone
  elseif tonumber(remaining) - in_flight <= 0 then
    if in_flight == 0 then return -2 end
    return 0
  end
end
redis.call('ZADD', res_key, now + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', res_key, 172800000)
return 1
"""
)

# KEYS: used, res, remaining. ARGV: member, spent (0/1), counted by server (0/1).
_SETTLE = """
redis.call('ZREM', KEYS[2], ARGV[1])
if tonumber(ARGV[2]) > 0 then
  redis.call('INCR', KEYS[1])
  redis.call('EXPIRE', KEYS[1], 172800)
  if tonumber(ARGV[3]) == 0 then
    local remaining = tonumber(redis.call('GET', KEYS[3]) or '-1')
    if remaining > 0 then redis.call('SET', KEYS[3], remaining - 1, 'EX', 172800) end
  end
end
return 1
"""

# KEYS: remaining, counts. ARGV: remaining. Remaining only falls within a day.
_REMAINING = """
local known = redis.call('GET', KEYS[1])
if known == false or tonumber(ARGV[1]) < tonumber(known) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', 172800)
end
redis.call('SET', KEYS[2], 1, 'EX', 172800)
return 1
"""


# A job's latest state (KEYS[1], a hash: at, job): returned if younger than ARGV[1] ms.
_SEEN = (
    _COMMON
    + """
local seen = redis.call('HMGET', KEYS[1], 'at', 'job')
if seen[1] and now - tonumber(seen[1]) < tonumber(ARGV[1]) then return seen[2] end
return false
"""
)

_SAW = (
    _COMMON
    + """
redis.call('HSET', KEYS[1], 'at', now, 'job', ARGV[1])
redis.call('PEXPIRE', KEYS[1], 86400000)
return 1
"""
)


class RedisBudget:
    """The request budget in Redis (see the module's docstring for what lives where).

    Created by the client for ``shared_state="redis://..."``; the same calls as the
    in-process budget. Redis unreachable: :class:`SharedStateError` at :meth:`open`, and
    mid-run from every admission and reservation (nothing is sent without the shared
    budget); what an answer taught is kept locally and never raises.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        limits: ProviderLimits,
        own: Limits | None = None,
        max_pause: float = 60.0,
        lease: float = 30.0,
    ) -> None:
        own = own or Limits()
        self._url = url
        self._ns = namespace
        self._redis = redis_module().from_url(
            url, socket_timeout=5.0, socket_connect_timeout=5.0, health_check_interval=0
        )
        self._prior = (
            own.rate_limit or limits.rate_limit or 0,
            own.rate_window or limits.rate_window,
        )
        mine = own.rate_limit is not None
        self._own = (self._prior[0] if mine else 0, self._prior[1])
        self._task_limit = own.concurrent_tasks or limits.concurrent_limit
        self._task_cap = own.concurrent_tasks
        self._daily_cap = own.daily_limit
        self._server_counts = limits.daily_limit is not None
        self._cap = PauseCap(max_pause)
        self._lease = lease
        self._tick = min(0.05, lease / 10)
        self._held: set[str] = set()  # our leases: job ids and reservations
        self._reserved: set[str] = set()  # our daily reservations
        self._finished: list[str] = []  # ended jobs whose slots are not yet freed in Redis
        self._active: set[str] = set()
        self._daily_remaining: int | None = None
        self._warned = False
        self._scripts: dict[str, Any] = {}
        self._wake: anyio.Event | None = None
        self._unanswered = Unanswered(time.monotonic)

    # -- what the client reads --------------------------------------------------------------

    @property
    def active_tasks(self) -> int:
        return len(self._active)

    @property
    def limits_tasks(self) -> bool:
        return bool(self._task_limit or self._task_cap)

    @property
    def daily_remaining(self) -> int | None:
        return self._daily_remaining

    @property
    def daily_limited(self) -> bool:
        return self._server_counts or self._daily_cap is not None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Check that Redis answers (and that this is asyncio): a typed error if not."""
        require_asyncio()
        await self._call(lambda: self._redis.ping())

    async def run(self) -> None:
        """Renew our leases and free the slots of ended jobs, until cancelled."""
        while True:
            self._wake = anyio.Event()
            with anyio.move_on_after(self._lease / 3):
                await self._wake.wait()
            try:
                await self._free_finished()
                if self._held or self._reserved:
                    await self._script(
                        "renew",
                        _RENEW,
                        [self._key("tasks"), self._day_key("res")],
                        [self._ms(self._lease), *sorted(self._held | self._reserved)],
                    )
            except SharedStateError:
                pass  # said once already; the leases lapse on their own

    async def aclose(self) -> None:
        if not _on_asyncio():
            return  # it never connected (open refused)
        with anyio.CancelScope(shield=True):
            with suppress(SharedStateError):
                await self._free_finished()
            await self._redis.aclose()

    # -- the rate window --------------------------------------------------------------------

    async def admit(self) -> int:
        """Wait until one more request fits the shared window; returns its number."""
        require_asyncio()
        prior_limit, prior_window = self._prior
        own_limit, own_window = self._own
        args = [prior_limit, self._ms(prior_window), own_limit, self._ms(own_window)]
        while True:
            answer = await self._script("admit", _ADMIT, [self._ns], args)
            if int(answer[0]) == 1:
                self._unanswered.sent(int(answer[1]))
                return int(answer[1])
            wait = int(answer[1]) / 1000
            # A new answer may end a probe's wait sooner: look again soon.
            await anyio.sleep(min(wait, self._tick) if int(answer[2]) else wait)

    async def observe(self, quota: Quota | None, *, seq: int) -> None:
        self._unanswered.answered(seq)
        if quota is None:
            return
        if quota.daily_remaining is not None:
            self._server_counts = True
            known = self._daily_remaining
            self._daily_remaining = (
                min(known, quota.daily_remaining) if known else quota.daily_remaining
            )
        if quota.daily_limit is not None:
            self._server_counts = True
        if quota.concurrent_limit:
            self._task_limit = quota.concurrent_limit
        await self._quietly(self._store(quota, seq))

    async def _store(self, quota: Quota, seq: int) -> None:
        if quota.rate_remaining is not None and quota.rate_reset is not None and seq >= 0:
            wait = quota.rate_reset.timestamp() - time.time()
            if quota.rate_remaining <= 0:
                await self._pause(wait, "its rate-limit reset time")
            wait = with_margin(min(max(wait, 0.0), self._cap.max_pause))
            remaining = quota.rate_remaining - self._unanswered.before(seq)
            args = [remaining, self._ms(wait), seq, quota.rate_limit or 0]
            await self._script("heard", _HEARD, [self._ns], args)
        if quota.concurrent_limit:
            await self._call(
                lambda: self._redis.set(self._key("tasklimit"), quota.concurrent_limit, ex=86400)
            )
        if quota.daily_remaining is not None:
            keys = [self._day_key("remaining"), self._day_key("counts")]
            await self._script("remaining", _REMAINING, keys, [quota.daily_remaining])

    async def back_off(self, seconds: float) -> None:
        await self._quietly(self._pause(seconds, "Retry-After"))

    async def _pause(self, seconds: float, source: str) -> None:
        capped = self._cap.capped(seconds, source, time.monotonic())
        if capped is not None:
            await self._script("pause", _PAUSE, [self._ns], [self._ms(capped)])

    async def daily_exhausted(self, reset_at: datetime | None) -> None:
        self._server_counts = True
        self._daily_remaining = 0
        keys = [self._day_key("remaining"), self._day_key("counts")]
        await self._quietly(self._script("remaining", _REMAINING, keys, [0]))

    # -- task slots and daily reservations ---------------------------------------------------

    def job_finished(self, job_id: str) -> None:
        """A job ended: its slot is freed in Redis by the next upkeep (or lapses)."""
        if job_id in self._held:
            self._held.discard(job_id)
            self._active.discard(job_id)
            self._finished.append(job_id)
            if self._wake is not None:
                self._wake.set()  # free it now, not at the next renewal

    async def _free_finished(self) -> None:
        finished, self._finished = self._finished, []
        if finished:
            try:
                await self._call(lambda: self._redis.zrem(self._key("tasks"), *finished))
            except SharedStateError:
                self._finished.extend(finished)
                raise

    @asynccontextmanager
    async def submission(self, *, wait_for_task_slot: bool = True) -> AsyncIterator[Ticket]:
        """Reserve a daily slot and a task slot for one submit, in Redis."""
        require_asyncio()
        await self._free_finished()
        member = f"submit:{uuid.uuid4().hex}"
        day = self._day()
        await self._reserve(member, day)
        try:
            if wait_for_task_slot:
                await self._take_slot(member)
        except BaseException:
            await self._settle(member, day, spent=False, counted=False)
            raise
        ticket = Ticket()
        try:
            yield ticket
        finally:
            spent = ticket.job_id is not None or ticket.maybe_spent
            with anyio.CancelScope(shield=True):
                await self._settle(member, day, spent=spent, counted=ticket.counted_by_server)
                if wait_for_task_slot:
                    await self._hand_slot(member, ticket.job_id)

    async def _reserve(self, member: str, day: str) -> None:
        keys = [self._day_key(name, day) for name in ("used", "res", "remaining", "counts")]
        args = [self._daily_cap or 0, int(self._server_counts), member, self._ms(self._lease)]
        # Polled: the one who frees a reservation may be another process.
        while (done := int(await self._script("reserve", _RESERVE, keys, args))) == 0:  # noqa: ASYNC110
            await anyio.sleep(self._tick)
        if done < 0:
            raise daily_spent_error(None)
        self._reserved.add(member)

    async def _settle(self, member: str, day: str, *, spent: bool, counted: bool) -> None:
        self._reserved.discard(member)
        keys = [self._day_key(name, day) for name in ("used", "res", "remaining")]
        # Never raises: a job id in hand must reach the caller; the reservation lapses.
        await self._quietly(
            self._script("settle", _SETTLE, keys, [member, int(spent), int(counted)])
        )

    async def _take_slot(self, member: str) -> None:
        args = [self._task_limit or 0, self._task_cap or 0, member, self._ms(self._lease)]
        while not int(await self._script("slot", _TAKE_SLOT, [self._ns], args)):  # noqa: ASYNC110
            await anyio.sleep(self._tick)
        self._held.add(member)

    async def _hand_slot(self, member: str, job_id: str | None) -> None:
        """The reservation's slot becomes the job's lease (or frees if nothing was made)."""
        self._held.discard(member)
        key = self._key("tasks")

        if job_id is not None:
            self._held.add(job_id)
            self._active.add(job_id)
        args = [member, job_id or "", self._ms(self._lease)]
        await self._quietly(self._script("hand", _HAND, [key], args))

    # -- one poll stream per job across processes --------------------------------------------

    async def look(self, job_id: str, poll: Poll, *, fresh_for: float) -> tuple[Job, float | None]:
        """``poll()``, unless another process looked less than ``fresh_for`` ago (its
        answer is reused) or is looking now (its answer is awaited, up to ``fresh_for``)."""
        require_asyncio()
        state, lease = self._key(f"job:{job_id}"), self._key(f"poll:{job_id}")
        fresh = self._ms(fresh_for)
        deadline = time.monotonic() + 2 * fresh_for + 1.0
        while True:
            seen = await self._script("seen", _SEEN, [state], [fresh])
            if seen:
                return Job.model_validate_json(seen), None
            taken = await self._call(lambda: self._redis.set(lease, 1, nx=True, px=fresh))
            if taken or time.monotonic() > deadline:  # ours to make, or its maker is gone
                job, hint = await poll()
                await self._quietly(self._script("saw", _SAW, [state], [job.model_dump_json()]))
                return job, hint
            await anyio.sleep(self._tick)

    # -- Redis -----------------------------------------------------------------------------

    def _key(self, name: str) -> str:
        return f"{self._ns}:{name}"

    @staticmethod
    def _day() -> str:
        return datetime.now(UTC).date().isoformat()

    def _day_key(self, name: str, day: str | None = None) -> str:
        return f"{self._ns}:day:{day or self._day()}:{name}"

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(1, math.ceil(seconds * 1000))

    async def _script(self, name: str, source: str, keys: list[str], args: list[Any]) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self._redis.register_script(source)
        return await self._call(lambda: script(keys=keys, args=args))

    async def _call(self, command: Any) -> Any:
        errors = redis_errors()
        try:
            return await command()
        except errors as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: BaseException) -> SharedStateError:
        message = (
            f"the shared state at {shown(self._url)} is unreachable ({type(exc).__name__}: "
            f"{exc}); not sending without the shared budget"
        )
        if not self._warned:
            self._warned = True
            logger.error("%s", message)
        return SharedStateError(message)

    async def _quietly(self, work: Any) -> None:
        # Said once; the next admission or reservation refuses to send.
        with suppress(SharedStateError):
            await work


def redis_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


def _on_asyncio() -> bool:
    import sniffio

    return sniffio.current_async_library() == "asyncio"


def require_asyncio() -> None:
    """``redis.asyncio`` runs only on asyncio: on trio, say so plainly."""
    if not _on_asyncio():
        raise InvalidRequestError(
            "needs asyncio (redis.asyncio is asyncio-only); leave it unset on trio",
            field="shared_state",
        )
