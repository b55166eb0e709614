"""The poll scheduler: one per client, shared by every waiter.

Tracked jobs sit in a due-time heap. Each job's next look comes from what is known about it
(queue position and observed throughput, progress rate, observed service times, the
server's hints), clamped to ``[poll_interval, max_poll_interval]`` with a little jitter.
Where the provider can list, one list request per tick settles every tracked job it shows;
single-job polls are kept for what the list cannot settle. A semaphore bounds the status and
list requests in flight, and two waiters on one job share one stream of polls.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import anyio

from ._errors import AuthenticationError, NotFoundError, SoraError
from ._models import Job, JobStatus

__all__ = ["Listener", "PollScheduler"]

logger = logging.getLogger("sora_async")

#: Called with each new state of a job, or with the error that ended its tracking.
Listener = Callable[[Job, SoraError | None], None]

_JITTER = 0.1
_FAILED_POLLS_FOR_GOOD = 3
_QUIET_SWEEPS = 3  # sweeps in a row that settled nothing: the list has stopped telling news
_PROBES_PER_SWEEP = 4


def _visible(job: Job) -> tuple[object, ...]:
    """The fields whose change a waiter is told about."""
    return (
        job.status,
        job.raw_status,
        job.queue_position,
        job.queue_size,
        job.progress,
        job.video_url,
        job.error,
    )


def _lacks_detail(job: Job) -> bool:
    """A terminal state a listing gives without what the caller needs (URL or reason)."""
    if job.status is JobStatus.COMPLETED:
        return not job.video_url
    return job.status is JobStatus.FAILED and not job.error


@dataclass(eq=False)
class _Entry:
    job: Job
    listeners: list[Listener]
    tracked_at: float
    due: float = 0.0
    in_flight: bool = False
    polls: int = 0
    failures: int = 0
    checked_at: float = 0.0  # last single-job poll
    hint: float | None = None
    processing_since: float | None = None
    progress_mark: tuple[float, float] | None = None
    progress_rate: float | None = None


class _Observations:
    """What the service has shown so far: service times, turnaround, throughput."""

    def __init__(self) -> None:
        self.service: deque[float] = deque(maxlen=256)
        self.turnaround: deque[float] = deque(maxlen=256)
        self.completions: deque[float] = deque(maxlen=256)

    def finished(self, entry: _Entry, now: float) -> None:
        self.turnaround.append(now - entry.tracked_at)
        self.completions.append(now)
        job = entry.job
        if job.started_at and job.completed_at and job.completed_at > job.started_at:
            self.service.append((job.completed_at - job.started_at).total_seconds())
        elif entry.processing_since is not None:
            self.service.append(now - entry.processing_since)

    def median_service(self) -> float | None:
        return statistics.median(self.service) if self.service else None

    def median_turnaround(self) -> float | None:
        return statistics.median(self.turnaround) if self.turnaround else None

    def early_turnaround(self) -> float | None:
        """The turnaround only one job in ten beats."""
        if len(self.turnaround) < 2:
            return self.turnaround[0] if self.turnaround else None
        return statistics.quantiles(self.turnaround, n=10)[0]

    def throughput(self) -> float | None:
        """Jobs finished per second, over the recent completions."""
        if len(self.completions) < 2:
            return None
        span = self.completions[-1] - self.completions[0]
        return (len(self.completions) - 1) / span if span > 0 else None


class PollScheduler:
    """Track jobs until they end, spending as few status and list requests as possible.

    ``poll_status`` fetches one job (and the server's poll hint, in seconds); ``list_jobs``,
    where the provider can list, returns those of the given tracked jobs a listing shows.
    """

    def __init__(
        self,
        *,
        poll_status: Callable[[str], Awaitable[tuple[Job, float | None]]],
        list_jobs: Callable[[Collection[str]], Awaitable[list[Job]]] | None,
        poll_concurrency: int,
        poll_interval: float,
        max_poll_interval: float,
        on_end: Callable[[Job], None] = lambda job: None,
    ) -> None:
        self._poll_status = poll_status
        self._list_jobs = list_jobs
        self._semaphore = anyio.Semaphore(poll_concurrency)
        self._min = poll_interval
        self._max = max(max_poll_interval, poll_interval)
        self._on_end = on_end
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, _Entry]] = []
        self._order = itertools.count()
        self._wake = anyio.Event()
        self._observed = _Observations()
        self._next_sweep = -math.inf
        self._quiet_sweeps = 0
        self._random = random.Random()
        self._hint_capped = False

    # -- the waiters' side -------------------------------------------------------------------

    @property
    def tracked(self) -> int:
        return len(self._entries)

    def get(self, job_id: str) -> Job | None:
        """The latest state of a tracked job, with no request."""
        entry = self._entries.get(job_id)
        return entry.job if entry else None

    def track(self, job: Job, listener: Listener) -> Callable[[], None]:
        """Follow ``job`` until it ends; returns the call that stops following it.

        ``listener`` must not block: it is called from the scheduler's own task.
        """
        entry = self._entries.get(job.id)
        if entry is None:
            now = time.monotonic()
            entry = self._entries[job.id] = _Entry(job=job, listeners=[], tracked_at=now)
            self._learn(entry, job, now)
            self._schedule(entry, now)
        # An entry that exists already keeps its own state: the caller's copy may be older.
        entry.listeners.append(listener)

        def untrack() -> None:
            if listener in entry.listeners:
                entry.listeners.remove(listener)
            if not entry.listeners and self._entries.get(entry.job.id) is entry:
                del self._entries[entry.job.id]

        return untrack

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until cancelled (the client runs this in its task group)."""
        async with anyio.create_task_group() as group:
            while True:
                now = time.monotonic()
                if self._list_jobs is not None:
                    if self._entries and now >= self._next_sweep:
                        await self._sweep(group)
                    else:
                        await self._sleep(self._next_sweep - now if self._entries else math.inf)
                elif due := self._take_due(now):
                    for entry in due:
                        await self._semaphore.acquire()
                        group.start_soon(self._poll_one, entry)
                else:
                    while self._heap and self._heap[0][2].due != self._heap[0][0]:
                        heapq.heappop(self._heap)  # stale: rescheduled or dropped since
                    await self._sleep(self._heap[0][0] - now if self._heap else math.inf)

    async def _sleep(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._wake.wait()
        self._wake = anyio.Event()

    def _take_due(self, now: float) -> list[_Entry]:
        due: list[_Entry] = []
        while self._heap and self._heap[0][0] <= now:
            when, _, entry = heapq.heappop(self._heap)
            if entry.due == when and not entry.in_flight and entry.job.id in self._entries:
                entry.in_flight = True
                due.append(entry)
        return due

    def _schedule(self, entry: _Entry, now: float) -> None:
        if self._list_jobs is not None:
            # Sweeps look at every tracked job; a new one waits for the next, at the earliest
            # one interval from now (it cannot have finished yet).
            if len(self._entries) == 1 and entry.polls == 0:
                self._next_sweep = max(self._next_sweep, now + self._min)
            self._wake.set()
            return
        entry.due = now + self._delay(entry, now)
        heapq.heappush(self._heap, (entry.due, next(self._order), entry))
        self._wake.set()

    # -- single polls and list sweeps ---------------------------------------------------------

    async def _poll_one(self, entry: _Entry) -> None:
        try:
            job, hint = await self._poll_status(entry.job.id)
        except SoraError as error:
            self._poll_failed(entry, error)
        else:
            entry.failures = 0
            entry.hint = self._capped(hint)
            self._update(entry, job)
        finally:
            self._semaphore.release()
            entry.checked_at = time.monotonic()
            self._release(entry)

    async def _sweep(self, group: anyio.abc.TaskGroup) -> None:
        """One list request settles every tracked job it shows; probes for the rest."""
        assert self._list_jobs is not None
        started = time.monotonic()
        async with self._semaphore:
            try:
                listed = {job.id: job for job in await self._list_jobs(self._entries.keys())}
            except SoraError:
                listed = {}  # the next sweep tries again; stuck jobs still get probes
        now = time.monotonic()
        unlisted: list[_Entry] = []
        news = False
        for entry in [e for e in self._entries.values() if not e.in_flight]:
            job = listed.get(entry.job.id)
            if job is None:
                unlisted.append(entry)
            elif _lacks_detail(job):
                # Listed as ended but without its URL or reason: one poll fetches it now.
                news = True
                entry.in_flight = True
                await self._semaphore.acquire()
                group.start_soon(self._poll_one, entry)
            else:
                news = news or job.is_terminal or _visible(job) != _visible(entry.job)
                self._update(entry, job)
        self._quiet_sweeps = 0 if news else self._quiet_sweeps + 1
        await self._probe(unlisted, now, group)
        self._next_sweep = started + self._sweep_gap()

    def _sweep_gap(self) -> float:
        # Every poll_interval while sweeps bring news (or before anything has finished, when
        # quiet is expected); slower once the list has stopped changing.
        misses = self._quiet_sweeps - _QUIET_SWEEPS if self._observed.completions else 0
        return min(self._min * 1.5 ** min(max(misses, 0), 10), self._max)

    async def _probe(self, unlisted: list[_Entry], now: float, group: anyio.abc.TaskGroup) -> None:
        # A list cannot show everything (codefast lists finished videos only), so the jobs it
        # leaves out get a single poll once they look stuck: when sweeps stop settling
        # anything, or far past the usual turnaround. Oldest first, a few a sweep.
        turnaround = self._observed.median_turnaround()
        unlisted.sort(key=lambda e: e.tracked_at)
        probes = 0
        for entry in unlisted:
            age = now - max(entry.checked_at, entry.tracked_at)
            stuck = self._quiet_sweeps >= _QUIET_SWEEPS or (
                turnaround is not None and age > 3 * turnaround
            )
            if probes == _PROBES_PER_SWEEP:
                return
            if stuck and age >= self._max:
                probes += 1
                entry.in_flight = True
                await self._semaphore.acquire()
                group.start_soon(self._poll_one, entry)

    def _capped(self, hint: float | None) -> float | None:
        """A server's poll hint, at most ``max_poll_interval`` (a capped one logged once)."""
        if hint is None or not hint <= self._max:
            if hint is not None and not self._hint_capped:
                self._hint_capped = True
                logger.warning(
                    "the server asked to wait %.0f s before looking at a job again; looking "
                    "within %.3g s instead (max_poll_interval)",
                    hint,
                    self._max,
                )
            return None if hint is None else self._max
        return hint

    def _poll_failed(self, entry: _Entry, error: SoraError) -> None:
        entry.failures += 1
        for_good = isinstance(error, NotFoundError | AuthenticationError)
        if for_good or entry.failures >= _FAILED_POLLS_FOR_GOOD:
            self._finish(entry, error)

    def _release(self, entry: _Entry) -> None:
        entry.in_flight = False
        if entry.job.id in self._entries and not entry.job.is_terminal:
            self._schedule(entry, time.monotonic())

    # -- learning from each answer ------------------------------------------------------------

    def _update(self, entry: _Entry, job: Job) -> None:
        entry.polls += 1
        now = time.monotonic()
        newer = entry.job.updated(job)
        changed = _visible(newer) != _visible(entry.job)
        self._learn(entry, newer, now)
        entry.job = newer
        if newer.is_terminal:
            if newer.status is JobStatus.COMPLETED:
                self._observed.finished(entry, now)
            self._finish(entry, None)
        elif changed:
            self._notify(entry, None)

    def _learn(self, entry: _Entry, job: Job, now: float) -> None:
        if job.status is JobStatus.PROCESSING and entry.processing_since is None:
            entry.processing_since = now
        if job.progress is not None and job.progress > 0:
            mark = entry.progress_mark
            if mark is not None and now > mark[0] and job.progress > mark[1]:
                entry.progress_rate = (job.progress - mark[1]) / (now - mark[0])
            if mark is None or job.progress > mark[1]:
                entry.progress_mark = (now, job.progress)

    def _finish(self, entry: _Entry, error: SoraError | None) -> None:
        self._entries.pop(entry.job.id, None)
        self._notify(entry, error)
        # Also when polls failed for good: a slot held forever would stall every submit.
        self._on_end(entry.job)

    @staticmethod
    def _notify(entry: _Entry, error: SoraError | None) -> None:
        for listener in list(entry.listeners):
            listener(entry.job, error)

    def _delay(self, entry: _Entry, now: float) -> float:
        """Seconds until ``entry`` is worth another single poll."""
        eta = entry.hint if entry.hint is not None else self._eta(entry, now)
        if eta is None:
            # Nothing known yet: back off until the service shows its pace.
            eta = self._min * 1.5 ** min(entry.polls, 10)
        delay = min(max(eta, self._min), self._max)
        return delay * (1 + self._random.uniform(0, _JITTER))

    def _eta(self, entry: _Entry, now: float) -> float | None:
        job, service = entry.job, self._observed.median_service()
        if job.status is JobStatus.PROCESSING:
            if entry.progress_rate and job.progress is not None:
                return (100.0 - job.progress) / entry.progress_rate
            if service is not None and entry.processing_since is not None:
                return entry.processing_since + service - now
            return None
        rate = self._observed.throughput()
        if job.queue_position and rate:
            return job.queue_position / rate + (service or 0.0)
        # First look when the quickest jobs so far were done: a short job is not left
        # waiting for the typical one, and the progress it shows then sets the next look.
        early = self._observed.early_turnaround()
        return entry.tracked_at + early - now if early is not None else None
