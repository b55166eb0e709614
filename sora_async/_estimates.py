"""What a client has learned about a service's pace, and when a job is worth a look.

Pure decisions on explicit times (no clock, no I/O), so that they are tested on made-up
times. :class:`Estimates` lives on the client and outlives batches: what one batch taught
(service times, turnaround, the size of answers) times the next batch's first looks.

>>> from sora_async._models import Job, JobStatus
>>> estimates = Estimates()
>>> known = Known(tracked_at=0.0)
>>> job = Job(id="j", status=JobStatus.PROCESSING, raw_status="processing", progress=50.0)
>>> known.learn(job, now=30.0)  # half done after 30 s: it ends at 60 s
>>> estimates.next_look(known, now=30.0, interval=3.0, longest=60.0)
30.0
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from ._models import Job, JobStatus

__all__ = ["Costs", "Estimates", "Known"]

#: Before anything has finished, the next look comes after this share of a job's age: the
#: gaps grow (3 s until 9 s, then 4, 5.3, 7.1 ... s) instead of sweeping at a fixed pace,
#: and the first job to end is seen at most a third of its own turnaround late.
GROWTH = 1 / 3
#: Where a job may finish any moment (its window has opened and nothing narrows it down),
#: looks come 1 to WINDOW_GAP poll intervals apart: every interval while jobs end at least
#: once an interval, further apart as they end more rarely (by the square root of the
#: rate: the gap that spends the fewest requests for the delay it costs). At small N a
#: few seconds of delay save most of the sweeps; at large N detection stays within one.
WINDOW_GAP = 2.5
_RECENT = 8  # completions the current rate is read from
#: The first look at a job whose progress will time the rest, as a quantile of the service
#: times seen: later saves a look for the short jobs, earlier sees them sooner (a job found
#: finished at that look waited for it). The median: where answers count the key's unfinished
#: jobs, the other jobs' polls see an end before that look (``benchmarks/replay.py``).
FIRST_LOOK_QUANTILE = 0.5
#: Below this progress one reading says little about the finish (a percent or two of
#: rounding is a large share): look again half-way to the estimate instead.
TRUSTED_PROGRESS = 40.0
#: One request is worth this many bytes of answer: a list sweep of a long history (codefast
#: lists every finished video, unpaged) loses to a few single polls.
BYTES_PER_REQUEST = 64 * 1024
_SAMPLES = 256


def quantile(values: deque[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (linear between the nearest ranks); ``nan`` if none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Known:
    """What has been seen of one job (local monotonic seconds)."""

    tracked_at: float
    queued_at: float | None = None  # the last time it was seen queued
    started: float | None = None  # the latest it can have started: first seen processing
    progress_mark: tuple[float, float] | None = None  # (time, progress) of the first reading
    progress: tuple[float, float] | None = None  # (time, progress) of the latest reading
    status: JobStatus = JobStatus.QUEUED
    queue_position: int | None = None
    hint: float | None = None  # the server's own "look again in" (seconds), capped
    looks: int = 0
    predicted: bool = False  # its progress rate has been counted as a service time

    @property
    def earliest_start(self) -> float:
        """The earliest the job can have started: the last time it was seen queued."""
        return self.queued_at if self.queued_at is not None else self.tracked_at

    def learn(self, job: Job, now: float) -> None:
        """Take in one answer about the job, seen at ``now``."""
        self.status = job.status
        self.queue_position = job.queue_position
        if job.status is JobStatus.QUEUED:
            self.queued_at = now
        elif job.status is JobStatus.PROCESSING and self.started is None:
            self.started = now
        if job.progress is not None and job.progress > 0:
            if self.progress_mark is None:
                self.progress_mark = (now, job.progress)
            if self.progress is None or job.progress > self.progress[1]:
                self.progress = (now, job.progress)

    def expected_end(self) -> float | None:
        """When progress says the job ends (at the latest), or ``None`` if it cannot say.

        Two readings give the rate itself (with a percent of slack for rounding). One
        reading at ``t`` of ``p`` percent, with the job started at the earliest at its last
        queued sighting ``s``, ends by ``s + (t - s) * 100 / p``. Progress is taken as
        linear in time.
        """
        if self.progress is None:
            return None
        seen, percent = self.progress
        if percent >= 100:
            return seen
        if (rate := self.progress_rate()) is not None:
            return seen + (100 - percent + 1) / rate
        start = self.earliest_start
        return start + (seen - start) * 100 / percent

    def progress_rate(self) -> float | None:
        """Percent per second between the first and the latest reading, if they differ."""
        if self.progress is None or self.progress_mark is None:
            return None
        (first, low), (seen, high) = self.progress_mark, self.progress
        return (high - low) / (seen - first) if seen > first and high > low else None

    def started_at(self) -> float:
        """The best guess of the start: from the progress rate, else the earliest possible."""
        rate = self.progress_rate()
        if rate is not None and self.progress is not None:
            return max(self.progress[0] - self.progress[1] / rate, self.tracked_at)
        return self.earliest_start


class Costs:
    """How big answers are, to choose between a list sweep and single polls."""

    def __init__(self) -> None:
        self.status_bytes = 512.0
        self.sweep_requests = 1.0
        self.sweep_bytes: float | None = None  # unknown until the first sweep

    def status_answer(self, size: int) -> None:
        self.status_bytes = 0.8 * self.status_bytes + 0.2 * size

    def list_answer(self, pages: int, size: int) -> None:
        self.sweep_requests = float(max(pages, 1))
        self.sweep_bytes = float(size)

    def sweep_cheaper(self, singles: float) -> bool:
        """Whether one sweep costs less than ``singles`` single polls (requests and bytes)."""
        if self.sweep_bytes is None:
            return singles > 1  # one page of a short list, until the first sweep says more
        sweep = self.sweep_requests + self.sweep_bytes / BYTES_PER_REQUEST
        single = 1 + self.status_bytes / BYTES_PER_REQUEST
        return sweep < singles * single


class Estimates:
    """The service's pace as seen so far: service times, turnarounds, answer sizes.

    >>> estimates = Estimates()
    >>> estimates.finished(Known(tracked_at=0.0, started=5.0), now=65.0)
    >>> estimates.service_quantile(0.5), estimates.turnaround_low()
    (65.0, 65.0)
    """

    def __init__(self) -> None:
        self.service: deque[float] = deque(maxlen=_SAMPLES)
        self.turnaround: deque[float] = deque(maxlen=_SAMPLES)
        self.completions: deque[float] = deque(maxlen=_RECENT)  # when jobs were seen done
        self.progress_seen = False  # whether this service reports progress at all
        self.predicted: deque[float] = deque(maxlen=_SAMPLES)  # service times progress foretold
        self.costs = Costs()
        # Quantiles asked for each of thousands of tracked jobs: sorted once per change.
        self._memo: dict[tuple[int, float], float] = {}
        self._gap: tuple[float, float, int, float] | None = None

    def _quantile(self, values: deque[float], q: float) -> float:
        key = (id(values), q)
        if key not in self._memo:
            self._memo[key] = quantile(values, q)
        return self._memo[key]

    def _changed(self) -> None:
        self._memo.clear()
        self._gap = None

    @property
    def any_finished(self) -> bool:
        return bool(self.turnaround)

    def learned(self, known: Known) -> None:
        """One answer about ``known``'s job has been taken in."""
        self.progress_seen = self.progress_seen or known.progress is not None
        rate = known.progress_rate()
        if rate is not None and not known.predicted:
            # Before anything has finished, a running job's rate already tells how long
            # jobs take: a queued job's first look waits for it.
            known.predicted = True
            self.predicted.append(100 / rate)
            self._changed()

    def finished(self, known: Known, now: float) -> None:
        """One job was seen completed at ``now``."""
        self.turnaround.append(now - known.tracked_at)
        self.completions.append(now)
        self._changed()
        if known.started is not None:
            end = min(now, known.expected_end() or now)
            self.service.append(max(end - known.started_at(), 0.0))
        elif self.progress_seen:
            # Seen done at its first look, unread: it took at most this long. Leaving such
            # jobs out would keep only the long ones (those read before their end), and
            # push every next first look later.
            self.service.append(max(now - known.earliest_start, 0.0))

    def window_gap(self, now: float, interval: float, tracked: int = 1) -> float:
        """How far apart looks come where a job may end any moment (see WINDOW_GAP).

        The rate jobs end at is the lower of the recent one (k completions since the k-th
        last) and the ``tracked`` jobs over the typical turnaround.
        """
        if not self.completions:
            return interval * WINDOW_GAP
        if self._gap is not None and self._gap[:3] == (now, interval, tracked):
            return self._gap[3]  # a sweep asks once for each of the jobs it looked at
        recent = len(self.completions) / max(now - self.completions[0], interval)
        typical = self.turnaround_median()
        per_interval = min(recent, max(tracked, 1) / max(typical, interval)) * interval
        gap = interval * min(max(1 / math.sqrt(per_interval), 1.0), WINDOW_GAP)
        self._gap = (now, interval, tracked, gap)
        return gap

    def likely_end(self, known: Known) -> float:
        """When ``known``'s job most likely ends: where progress says, else a median service
        time after its earliest start (a median turnaround after tracking; before either
        is known, the oldest first)."""
        end = known.expected_end()
        if end is not None:
            return end
        services = self.service or self.predicted
        if services:
            return known.earliest_start + self._quantile(services, 0.5)
        if self.turnaround:
            return known.tracked_at + self.turnaround_median()
        return known.tracked_at

    def service_quantile(self, q: float) -> float:
        return self._quantile(self.service, q)

    def turnaround_median(self) -> float:
        return self._quantile(self.turnaround, 0.5)

    def turnaround_low(self) -> float:
        """The shortest turnaround seen (``nan`` before the first)."""
        return self._quantile(self.turnaround, 0.0)

    def next_look(
        self, known: Known, *, now: float, interval: float, longest: float, tracked: int = 1
    ) -> float:
        """Seconds from ``now`` until ``known``'s job is worth a look.

        In order: the server's hint; the end that progress predicts; the service times seen
        since its start (or the turnarounds seen, when its start is unknown): no look
        before the shortest could have passed, or, where progress will time the rest, before
        half of them have; and, before anything has finished, a gap growing with the job's
        age. Where nothing narrows it down, every :meth:`window_gap`. Kept within
        ``[interval, longest]``.
        """
        when = self._plan(known, now, interval, tracked)
        return min(max(when - now, interval), longest)

    def _plan(self, known: Known, now: float, interval: float, tracked: int) -> float:
        if known.hint is not None:
            return now + known.hint
        end = known.expected_end()
        if end is not None:
            if end <= now:
                return now + interval  # overdue: it ends any moment
            one = known.progress_rate() is None and known.progress is not None
            if one and known.progress is not None and known.progress[1] < TRUSTED_PROGRESS:
                return now + (end - now) / 2  # a second reading will time it
            return end
        services = self.service or self.predicted
        if services and (known.started is not None or known.queued_at is not None):
            # Seen queued at some time: it cannot end before a whole service time after.
            base, samples = known.earliest_start, services
        else:
            base, samples = known.tracked_at, self.turnaround
        if samples:
            # With progress, one look late enough to read a telling figure times the rest;
            # without, the window opens when the quickest job could be done.
            timed = self.progress_seen and known.progress is None
            if timed:
                opens = base + self._quantile(samples, FIRST_LOOK_QUANTILE)
            else:
                # The quickest of n jobs overstates the quickest there can be (by about
                # 1/(n+1) of it, for evenly spread times): with one sample, by half.
                opens = base + self._quantile(samples, 0.0) * len(samples) / (len(samples) + 1)
            if opens > now:
                return opens
        elif not self.any_finished:
            return now + GROWTH * (now - known.tracked_at)
        return now + self.window_gap(now, interval, tracked)
