"""The simulated back end: a FIFO job queue on N worker slots, a clock, and the quotas.

There are no background tasks. When a job is submitted its start and finish are computed
at once (the earliest free worker slot, kept in a heap of slot free-times), and its state
at any later moment is derived from the clock. Start times are therefore monotone in
submission order, and a job's queue position is its sequence number minus the number of
jobs started so far (one bisect), so 10,000 jobs stay cheap.

Clock rules: everything here runs on the monotonic ``clock`` in *real* seconds (simulated
durations are multiplied by ``time_scale`` on the way in); :meth:`Engine.wall` turns a
clock reading into a real unix timestamp for the wire.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import math
import random
import threading
import time
import uuid
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._errors import Limit, Limited
from ._settings import SimulatorSettings
from ._state import StateFile
from ._types import Phase

_DAY = 86_400.0
_MOMENTS = ("submitted", "start", "finish")


@dataclass(slots=True)
class Job:
    """One submitted job. ``submitted``/``start``/``finish`` are clock readings."""

    id: str
    seq: int
    key: str
    prompt: str
    submitted: float
    start: float
    finish: float
    failed: bool
    error: str
    seconds: float
    width: int
    height: int
    meta: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class JobState:
    """A job as seen at one moment."""

    phase: Phase
    queue_position: int
    queue_size: int
    progress: int


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job for benchmarks and tests; times are real unix timestamps (None: not yet)."""

    id: str
    key_hash: str
    prompt: str
    status: Phase
    submitted_at: float
    started_at: float | None
    finished_at: float | None
    failed: bool


@dataclass(frozen=True, slots=True)
class RateState:
    """The rolling-window budget of one key; ``reset_at`` is a unix timestamp."""

    limit: int
    remaining: int
    reset_at: float
    reset_in: float


def key_hash(key: str) -> str:
    """A short, stable, non-reversible name for an API key (keys are never stored)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class Engine:
    """Jobs, queue and limits of one simulated provider."""

    def __init__(
        self,
        settings: SimulatorSettings,
        *,
        clock: Callable[[], float] | None = None,
        wall: Callable[[], float] | None = None,
        state: StateFile | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock or time.monotonic
        self._epoch = self._clock()
        self._wall_offset = (wall or time.time)() - self._epoch
        self._scale = settings.time_scale
        self._rng = random.Random(settings.seed)
        # The server thread answers requests while the user's thread may read or reset.
        self._lock = threading.RLock()
        self._slots = [self._epoch] * (settings.workers or 1)  # a valid heap already
        self._starts: list[float] = []
        self._jobs: dict[str, Job] = {}
        self._order: list[Job] = []
        self._by_key: defaultdict[str, list[Job]] = defaultdict(list)
        self._active: defaultdict[str, list[float]] = defaultdict(list)
        self._windows: defaultdict[str, deque[float]] = defaultdict(deque)
        self._daily: dict[str, tuple[int, int]] = {}
        self._spent: defaultdict[str, int] = defaultdict(int)
        # Keys known only by their hash (loaded from a state file) until a request shows one.
        self._hashed: set[str] = set()
        self._state = state
        if state is not None:
            state.load(self)

    # -- time -------------------------------------------------------------------------

    def now(self) -> float:
        """The current clock reading."""
        return self._clock()

    def wall(self, moment: float) -> float:
        """The unix timestamp of a clock reading."""
        return moment + self._wall_offset

    def scaled(self, sim_seconds: float) -> float:
        """Simulated seconds as real seconds."""
        return sim_seconds * self._scale

    @property
    def integral_times(self) -> bool:
        """Whether waits and reset times go on the wire as integers (real speed or slower)."""
        return self._scale >= 1.0

    # -- keys and per-request limits ----------------------------------------------------

    def key_ok(self, key: str) -> bool:
        """Whether the simulator accepts this key."""
        expected = self.settings.api_key
        if expected is None:
            return bool(key)
        return hmac.compare_digest(key.encode(), expected.encode())

    def admit(self, key: str) -> None:
        """Count one authenticated request against the key's window (and daily quota where
        every request counts); raise :class:`Limited` when it is over a limit."""
        settings = self.settings
        with self._lock:
            if self._hashed:
                self._claim(key)
            now = self.now()
            window = self._windows[key]
            if settings.rate_limit is not None:
                self._prune_window(window, now)
                if len(window) >= settings.rate_limit:
                    wait = self._window_reset(window, now) - now
                    raise Limited(Limit.RATE, retry_after=max(wait, 0.0))
            if self._daily_counts_requests and settings.daily_limit is not None:
                if self._daily_used(key, now) >= settings.daily_limit:
                    raise Limited(Limit.DAILY)
                self._daily_add(key, now)
            if settings.rate_limit is not None:
                window.append(now)

    def rate_state(self, key: str | None) -> RateState | None:
        """The key's window budget now (``None`` when no rate limit is configured)."""
        limit = self.settings.rate_limit
        if limit is None:
            return None
        with self._lock:
            now = self.now()
            window = self._windows.get(key) if key is not None else None
            if window is None:
                return RateState(limit, limit, self.wall(now), 0.0)
            self._prune_window(window, now)
            reset = self._window_reset(window, now) if window else now
            return RateState(limit, max(0, limit - len(window)), self.wall(reset), reset - now)

    def _prune_window(self, window: deque[float], now: float) -> None:
        horizon = now - self.scaled(self.settings.rate_window)
        while window and window[0] <= horizon:
            window.popleft()

    def _window_reset(self, window: deque[float], now: float) -> float:
        """When the oldest request leaves the window (a full window if it is empty)."""
        span = self.scaled(self.settings.rate_window)
        return window[0] + span if window else now + span

    # -- daily quota --------------------------------------------------------------------

    @property
    def _daily_counts_requests(self) -> bool:
        # soravideo publishes "500 requests per day"; the others count submissions.
        return self.settings.provider == "soravideo"

    def _day(self, now: float) -> int:
        if self._scale == 1.0:
            return math.floor(self.wall(now) / _DAY)  # real days end at midnight UTC
        return math.floor((now - self._epoch) / self.scaled(_DAY))

    def _daily_used(self, key: str, now: float) -> int:
        day, used = self._daily.get(key, (-1, 0))
        return used if day == self._day(now) else 0

    def _daily_add(self, key: str, now: float) -> None:
        self._daily[key] = (self._day(now), self._daily_used(key, now) + 1)

    def daily(self, key: str) -> tuple[int | None, int | None]:
        """``(daily_limit, remaining)`` for the key (``(None, None)`` when unlimited)."""
        limit = self.settings.daily_limit
        if limit is None:
            return None, None
        with self._lock:
            return limit, max(0, limit - self._daily_used(key, self.now()))

    def daily_reset_at(self) -> float:
        """The unix time at which every key's daily quota comes back."""
        now = self.now()
        day = self._day(now)
        if self._scale == 1.0:
            return (day + 1) * _DAY
        return self.wall(self._epoch + (day + 1) * self.scaled(_DAY))

    def reset_day(self) -> None:
        """Give every key its whole daily quota back, now."""
        with self._lock:
            self._daily.clear()

    # -- jobs ---------------------------------------------------------------------------

    def active(self, key: str) -> int:
        """How many of the key's jobs are not finished."""
        with self._lock:
            return self._prune_active(key, self.now())

    def _prune_active(self, key: str, now: float) -> int:
        finishes = self._active[key]
        while finishes and finishes[0] <= now:
            heapq.heappop(finishes)
        return len(finishes)

    def credits(self, key: str) -> int | None:
        """Credits the key has left (``None``: unlimited)."""
        start = self.settings.credits
        return None if start is None else max(0, start - self._spent[key])

    def submit(
        self,
        key: str,
        *,
        prompt: str,
        cost: int,
        seconds: float,
        width: int,
        height: int,
        meta: dict[str, Any] | None = None,
    ) -> Job:
        """Accept a job for ``key`` or raise :class:`Limited` (concurrency, daily, credits)."""
        settings = self.settings
        with self._lock:
            now = self.now()
            active = self._prune_active(key, now)
            if settings.concurrent_limit is not None and active >= settings.concurrent_limit:
                raise Limited(Limit.CONCURRENT)
            daily_submits = not self._daily_counts_requests and settings.daily_limit is not None
            if daily_submits and self._daily_used(key, now) >= (settings.daily_limit or 0):
                raise Limited(Limit.DAILY)
            left = self.credits(key)
            if left is not None and left < cost:
                raise Limited(Limit.CREDITS)
            # Always the same three draws per job, so a seed replays the same run.
            ident = self._rng.getrandbits(128)
            low, high = settings.service_time
            service = self.scaled(self._rng.uniform(low, high))
            failed = self._rng.random() < settings.failure_rate
            marker = settings.fail_prompts_containing
            failed = failed or (marker is not None and marker in prompt)
            free = heapq.heappop(self._slots)
            start = max(now + self.scaled(settings.pickup_delay), free)
            finish = start + service
            heapq.heappush(self._slots, finish)
            job = Job(
                id=self._job_id(ident),
                seq=len(self._order),
                key=key,
                prompt=prompt,
                submitted=now,
                start=start,
                finish=finish,
                failed=failed,
                error=settings.failure_error if failed else "",
                seconds=seconds,
                width=width,
                height=height,
                meta=dict(meta or {}),
            )
            self._jobs[job.id] = job
            self._order.append(job)
            self._starts.append(start)
            self._by_key[key].append(job)
            heapq.heappush(self._active[key], finish)
            if daily_submits:
                self._daily_add(key, now)
            self._spent[key] += cost
            self._save()
            return job

    def _job_id(self, bits: int) -> str:
        provider = self.settings.provider
        if provider == "codefast":
            return str(uuid.UUID(int=bits, version=4))
        if provider == "soravideo":
            return f"task_{bits:032x}"[:29]
        return f"video_{bits:032x}"

    def get(self, job_id: str, key: str | None = None) -> Job | None:
        """The job with this id (owned by ``key`` when given), unless deleted."""
        job = self._jobs.get(job_id)
        if job is None or job.deleted or (key is not None and job.key != key):
            return None
        return job

    def delete(self, job: Job) -> None:
        """Forget a job for its owner (its worker slot stays taken until it finishes)."""
        job.deleted = True
        self._save()

    # -- a state file (see _state.py) ----------------------------------------------------

    def _save(self) -> None:
        if self._state is not None:
            with self._lock:
                self._state.save(self)

    def snapshot(self) -> dict[str, Any]:
        """Everything a new process needs to go on: unix times, hashed keys."""

        def hashed(key: str) -> str:
            return key if key in self._hashed else key_hash(key)

        with self._lock:
            return {
                "epoch": self.wall(self._epoch),
                "rng": self._rng.getstate(),
                "slots": [self.wall(free) for free in self._slots],
                "jobs": [
                    {
                        **{name: getattr(job, name) for name in Job.__slots__},
                        "key": hashed(job.key),
                        "submitted": self.wall(job.submitted),
                        "start": self.wall(job.start),
                        "finish": self.wall(job.finish),
                    }
                    for job in self._order
                ],
                "daily": {hashed(key): list(value) for key, value in self._daily.items()},
                "spent": {hashed(key): value for key, value in self._spent.items()},
            }

    def restore(self, data: dict[str, Any]) -> None:
        """Load a :meth:`snapshot` (into a new engine)."""
        offset = self._wall_offset
        with self._lock:
            self._epoch = float(data["epoch"]) - offset
            version, internal, gauss = data["rng"]
            self._rng.setstate((version, tuple(internal), gauss))
            self._slots = [float(free) - offset for free in data["slots"]]
            heapq.heapify(self._slots)
            for fields in data["jobs"]:
                moments = {name: float(fields[name]) - offset for name in _MOMENTS}
                job = Job(**{**fields, **moments})
                self._jobs[job.id] = job
                self._order.append(job)
                self._starts.append(job.start)
                self._by_key[job.key].append(job)
                heapq.heappush(self._active[job.key], job.finish)
                self._hashed.add(job.key)
            self._daily = {key: (day, used) for key, (day, used) in data["daily"].items()}
            self._spent.update(data["spent"])
            self._hashed.update(self._daily, self._spent)

    def _claim(self, key: str) -> None:
        """The first request with a key whose jobs were loaded by hash: they are its own."""
        hashed = key_hash(key)
        if hashed not in self._hashed:
            return
        self._hashed.discard(hashed)
        tables: tuple[dict[str, Any], ...] = (self._by_key, self._active, self._daily, self._spent)
        for table in tables:
            if hashed in table:
                table[key] = table.pop(hashed)
        for job in self._by_key.get(key, ()):
            job.key = key

    def state(self, job: Job, now: float | None = None) -> JobState:
        """The job's phase, queue position and progress at ``now``."""
        if now is None:
            now = self.now()
        if now < job.start:
            started = bisect_right(self._starts, now)
            return JobState("queued", job.seq - started + 1, len(self._starts) - started, 0)
        if now < job.finish:
            progress = int(100 * (now - job.start) / (job.finish - job.start))
            return JobState("processing", 0, 0, min(progress, 99))
        return JobState("failed" if job.failed else "completed", 0, 0, 100)

    def finished_videos(self, key: str) -> list[Job]:
        """The key's completed (not failed, not deleted) jobs, newest submission first."""
        now = self.now()
        return [
            job
            for job in reversed(self._by_key.get(key, ()))
            if job.finish <= now and not job.failed and not job.deleted
        ]

    def jobs_of(self, key: str) -> list[Job]:
        """The key's jobs in submission order, deleted ones left out."""
        return [job for job in self._by_key.get(key, ()) if not job.deleted]

    def records(self) -> list[JobRecord]:
        """Every job ever submitted, as :class:`JobRecord` (for benchmarks)."""
        now = self.now()
        with self._lock:
            jobs = list(self._order)
        records = []
        for job in jobs:
            phase = self.state(job, now).phase
            records.append(
                JobRecord(
                    id=job.id,
                    key_hash=job.key,
                    prompt=job.prompt,
                    status=phase,
                    submitted_at=self.wall(job.submitted),
                    started_at=self.wall(job.start) if now >= job.start else None,
                    finished_at=self.wall(job.finish) if now >= job.finish else None,
                    failed=phase == "failed",
                )
            )
        return records
