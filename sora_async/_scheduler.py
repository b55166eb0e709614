"""The poll scheduler: one per client, shared by every waiter.

Tracked jobs sit in a due-time heap. Each job's next look comes from what is known about it
and about the service (``_estimates.py``: the server's hints, progress, service times and
turnarounds seen so far, kept on the client across batches), at least ``poll_interval`` and
at most ``max_poll_interval`` apart. When looks fall due, a list request (where the provider
can list) or single polls are sent, whichever costs less in requests and bytes: one sweep
settles every tracked job the list shows, and counts as a look at the others. A semaphore
bounds the status and list requests in flight, and two waiters on one job share one stream
of polls.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Collection

import anyio
import anyio.abc

from ._errors import AuthenticationError, NotFoundError, SoraError
from ._estimates import Estimates, Known
from ._models import Job, JobStatus

__all__ = ["Listener", "PollScheduler"]

logger = logging.getLogger("sora_async")

#: Called with each new state of a job, or with the error that ended its tracking.
Listener = Callable[[Job, SoraError | None], None]

_FAILED_POLLS_FOR_GOOD = 3
_PROBES_PER_SWEEP = 4
#: A job a list never shows (codefast lists finished videos only: a failed one never
#: appears) gets a single poll once it is this many typical turnarounds old.
_STUCK_TURNAROUNDS = 3


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


class _Entry:
    __slots__ = (
        "capped",
        "checked_at",
        "due",
        "failures",
        "in_flight",
        "job",
        "known",
        "listeners",
    )

    def __init__(self, job: Job, now: float) -> None:
        self.job = job
        self.listeners: list[Listener] = []
        self.known = Known(tracked_at=now)
        self.due = math.inf
        self.capped = False  # its next look is due only because of max_poll_interval
        self.in_flight = False
        self.failures = 0
        self.checked_at = now  # the last single poll (or when tracking began)


class PollScheduler:
    """Track jobs until they end, spending as few status and list requests as possible.

    ``poll_status`` fetches one job (and the server's poll hint, in seconds); ``list_jobs``,
    where the provider can list, returns those of the given tracked jobs a listing shows.
    ``estimates`` is what the client has learned so far (shared by its schedulers);
    ``clock`` is for tests.
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
        estimates: Estimates | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._poll_status = poll_status
        self._list_jobs = list_jobs
        self._semaphore = anyio.Semaphore(poll_concurrency, fast_acquire=True)
        self._min = poll_interval
        self._max = max(max_poll_interval, poll_interval)
        self._on_end = on_end
        self._estimates = estimates or Estimates()
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, _Entry]] = []
        self._order = itertools.count()
        self._wake = anyio.Event()
        self._hint_capped = False
        self._counts_active = False  # answers say how many of the key's jobs are unfinished
        self._ended_told_at: float | None = None  # when the count first fell short, if it has

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
            now = self._clock()
            entry = self._entries[job.id] = _Entry(job, now)
            entry.known.learn(job, now)
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
                now = self._clock()
                due = self._take_due(now)
                if not due:
                    await self._sleep(self._next_due() - now)
                elif self.sweep_pays(due, now):
                    await self._sweep(group, due)
                else:
                    for entry in self._singles(due, now):
                        await self._start_poll(group, entry)

    async def _sleep(self, timeout: float) -> None:
        with anyio.move_on_after(timeout):
            await self._wake.wait()
        self._wake = anyio.Event()

    def _next_due(self) -> float:
        while self._heap and not self._current(*self._heap[0]):
            heapq.heappop(self._heap)  # stale: rescheduled or dropped since
        return self._heap[0][0] if self._heap else math.inf

    def _current(self, when: float, order: int, entry: _Entry) -> bool:
        return entry.due == when and not entry.in_flight and entry.job.id in self._entries

    def _take_due(self, now: float) -> list[_Entry]:
        due: list[_Entry] = []
        while self._heap and self._heap[0][0] <= now:
            item = heapq.heappop(self._heap)
            if self._current(*item):
                item[2].due = math.inf
                due.append(item[2])
        return due

    def _schedule(self, entry: _Entry, now: float) -> None:
        delay = self._estimates.next_look(
            entry.known, now=now, interval=self._min, longest=self._max, tracked=self.tracked
        )
        entry.capped = delay >= self._max
        when = now + delay
        if when != entry.due:
            entry.due = when
            heapq.heappush(self._heap, (when, next(self._order), entry))
            self._wake.set()

    def sweep_pays(self, due: Collection[_Entry], now: float) -> bool:
        """Whether one list request costs less than single polls of the jobs due.

        A sweep also stands for the other jobs' looks, each due within
        ``max_poll_interval`` at the latest: they count half.
        """
        if self._list_jobs is None:
            return False
        others = max(self.tracked - len(due), 0)
        return self._estimates.costs.sweep_cheaper(len(due) + others / 2)

    def _singles(self, due: list[_Entry], now: float) -> list[_Entry]:
        """The jobs to poll one by one now.

        Where answers count the key's unfinished jobs, one poll is a look at all of them:
        the rest wait for what it says. The poll goes to the due job expected to end first;
        when only ``max_poll_interval`` makes looks due, to the job whose answer tells most
        (see :meth:`_most_telling`).
        """
        if not self._counts_active:
            return due
        planned = [e for e in due if not e.capped]
        if planned:
            pick: _Entry | None = min(planned, key=lambda e: self._estimates.likely_end(e.known))
        elif any(e.in_flight for e in self._entries.values()):
            pick = None  # a poll on its way is the look these are due for
        else:
            pick = self._most_telling(now) or due[0]
        for entry in due:
            if entry is not pick:
                entry.due = now + self._min / 2  # the answer reschedules them first, normally
                heapq.heappush(self._heap, (entry.due, next(self._order), entry))
        return [pick] if pick is not None else []

    def _most_telling(self, now: float) -> _Entry | None:
        """The job worth polling when any poll would do: one likely done already (the poll
        ends it), else one never read (its progress times its end), else the first to end.
        A read job polled before its end would only say what is known. Only jobs last
        polled ``poll_interval`` ago or more."""

        def rank(entry: _Entry) -> tuple[bool, bool, float]:
            end = self._estimates.likely_end(entry.known)
            return (end > now, entry.known.progress is not None, end)

        ready = [
            e for e in self._entries.values() if not e.in_flight and now - e.checked_at >= self._min
        ]
        return min(ready, key=rank) if ready else None

    # -- single polls and list sweeps ---------------------------------------------------------

    async def _start_poll(self, group: anyio.abc.TaskGroup, entry: _Entry) -> None:
        entry.in_flight = True
        await self._semaphore.acquire()
        group.start_soon(self._poll_one, entry)

    async def _poll_one(self, entry: _Entry) -> None:
        sent = self._clock()
        try:
            job, hint = await self._poll_status(entry.job.id)
        except SoraError as error:
            self._poll_failed(entry, error)
        else:
            entry.failures = 0
            entry.known.hint = self._capped(hint)
            self._update(entry, job, self._clock())
            if job.quota is not None and job.quota.concurrent_active is not None:
                self._counts_active = True
                self._active_told(job.quota.concurrent_active, entry, sent, self._clock())
        finally:
            self._semaphore.release()
            entry.checked_at = self._clock()
            self._release(entry)

    async def _sweep(self, group: anyio.abc.TaskGroup, due: list[_Entry]) -> None:
        """One list request settles every tracked job it shows, and is a look at the rest."""
        assert self._list_jobs is not None
        # The list shows the jobs as they were when it was asked for: the next looks are
        # timed from then, so a slow answer (a long list) does not stretch the gaps.
        asked = self._clock()
        async with self._semaphore:
            try:
                listed: dict[str, Job] | None = {
                    job.id: job for job in await self._list_jobs(self._entries.keys())
                }
            except SoraError:
                listed = None  # the next sweep tries again; stuck jobs still get probes
        now = self._clock()
        probes = self._stuck(due, now)
        for entry in [e for e in self._entries.values() if not e.in_flight]:
            job = listed.get(entry.job.id) if listed is not None else None
            if job is not None and _lacks_detail(job):
                # Listed as ended but without its URL or reason: one poll fetches it now.
                await self._start_poll(group, entry)
            elif job is not None:
                self._update(entry, job, now)
                if entry.job.id in self._entries:
                    self._schedule(entry, asked)
            elif entry in probes:
                await self._start_poll(group, entry)
            elif listed is not None or entry.due == math.inf:
                self._schedule(entry, asked)

    def _active_told(self, active: int, polled: _Entry, sent: float, now: float) -> None:
        """An answer said how many of the key's jobs are unfinished (soravideo's
        ``X-Concurrent-Active``): a look at every job this scheduler follows, for one request.

        As many as are tracked: none has finished, so each one's next look can wait. Fewer:
        that many have, and the ones expected to end first get their look now (no sooner
        than ``poll_interval`` after their last).

        Only the jobs tracked when the poll was ``sent`` are counted: a job submitted while
        it was in flight may be missing from the count, and would look like an end.
        """
        counted = [e for e in self._entries.values() if e.known.tracked_at <= sent]
        others = [e for e in counted if e is not polled and not e.in_flight]
        ended = len(counted) - active
        if ended <= 0:
            self._ended_told_at = None
            for entry in others:
                self._schedule(entry, now)
            return
        if self._ended_told_at is None:
            self._ended_told_at = now
        # A job seen unfinished since the count first fell is not the one that ended.
        suspects = [e for e in others if e.checked_at < self._ended_told_at]
        suspects.sort(key=lambda e: self._estimates.likely_end(e.known))
        for entry in suspects[:ended]:
            entry.capped = False  # one of them has ended: a look is due for its own sake
            entry.due = max(now, entry.checked_at + self._min)
            heapq.heappush(self._heap, (entry.due, next(self._order), entry))
        self._wake.set()

    def _stuck(self, due: list[_Entry], now: float) -> list[_Entry]:
        # A list cannot show everything (codefast lists finished videos only), so a job it
        # leaves out gets a single poll once it is far past the usual turnaround (or, before
        # anything has finished, far past the longest gap). Oldest first, a few a sweep.
        turnarounds = self._estimates.turnaround
        typical = self._estimates.turnaround_median() if turnarounds else self._max
        stuck = [
            e for e in due if now - e.checked_at >= max(self._max, _STUCK_TURNAROUNDS * typical)
        ]
        stuck.sort(key=lambda e: e.checked_at)
        return stuck[:_PROBES_PER_SWEEP]

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
            self._schedule(entry, self._clock())

    # -- learning from each answer ------------------------------------------------------------

    def _update(self, entry: _Entry, job: Job, now: float) -> None:
        newer = entry.job.updated(job)
        changed = _visible(newer) != _visible(entry.job)
        known = entry.known
        known.looks += 1
        known.learn(newer, now)
        self._estimates.learned(known)
        entry.job = newer
        if newer.is_terminal:
            if newer.status is JobStatus.COMPLETED:
                self._estimates.finished(known, now)
            self._finish(entry, None)
        elif changed:
            self._notify(entry, None)

    def _finish(self, entry: _Entry, error: SoraError | None) -> None:
        self._entries.pop(entry.job.id, None)
        self._notify(entry, error)
        # Also when polls failed for good: a slot held forever would stall every submit.
        self._on_end(entry.job)

    @staticmethod
    def _notify(entry: _Entry, error: SoraError | None) -> None:
        for listener in list(entry.listeners):
            listener(entry.job, error)
