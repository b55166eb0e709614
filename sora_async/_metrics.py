"""What a client has done, for the people who run it: a snapshot, and OpenTelemetry.

Every request is recorded where it is sent, in the transport (:class:`Recorder.request`);
the client adds what only it knows (retries, the end of a tracked job) with one call each.
:meth:`AsyncSoraClient.metrics` returns a :class:`ClientMetrics`, a frozen snapshot.

Where ``opentelemetry-api`` is installed (the ``otel`` extra) the same events also go to
OpenTelemetry as metrics and spans (:mod:`sora_async.contrib.otel`). Nothing recorded ever
holds the API key, a prompt, a URL or a job id: only counts, durations, status codes, the
provider's name and the kind of call.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from ._errors import APIConnectionError, RateLimitError
from ._models import Job, JobStatus, Quota

if TYPE_CHECKING:
    from ._transport import Answer

__all__ = ["ClientMetrics", "DurationStats", "Recorder", "RequestKind", "Sink"]

RequestKind = Literal["submit", "read", "write", "download"]
"""``submit``: a generation (it spends quota); ``read``: a status, list, quota or key check
(GET); ``write``: another POST or DELETE (an upload, a delete); ``download``: a file."""

_KINDS: tuple[RequestKind, ...] = ("submit", "read", "write", "download")
# The durations kept for the quantiles: recent ones, so a long-lived service shows today.
_WINDOW = 1024
# Jobs remembered as last seen unfinished (the bound of their detection delay).
_MAX_PENDING = 100_000
_serials = itertools.count(1)


class DurationStats(BaseModel):
    """Durations in seconds: how many, their sum (both only grow, for rates), and the
    median, 90th percentile and maximum of the last 1024.

    >>> DurationStats().count
    0
    """

    model_config = ConfigDict(frozen=True)

    count: int = 0
    total: float = 0.0
    p50: float | None = None
    p90: float | None = None
    max: float | None = None


class ClientMetrics(BaseModel):
    """A snapshot of what one client has done since it was made (``client.metrics()``).

    ``requests_sent`` counts every HTTP request (retries and download redirects included);
    ``requests`` counts calls by kind (``submit``, ``read``, ``write``, ``download``).
    ``rate_limited`` counts answers that were a rate refusal (HTTP 429 or the provider's
    own code, daily-limit refusals included); ``retries``, the tries the retry policy made
    again; ``connection_errors``, requests that got no answer. ``jobs_submitted`` counts
    submissions the server took, ``jobs_tracked`` the jobs the poll scheduler follows now,
    ``jobs_finished`` those it saw end. ``quota`` is the provider's last word on it.
    ``submit_latency`` times a submission from sending to its answer;
    ``detection_delay``, from a job's end to the client noticing it (by the server's
    ``completed_at`` where it gives one, never more than the time since the last answer
    that showed the job unfinished).

    >>> AsyncSoraClient.simulated().metrics().requests_sent  # doctest: +SKIP
    0
    """

    model_config = ConfigDict(frozen=True)

    provider: str
    requests_sent: int = 0
    requests: dict[str, int] = {}
    rate_limited: int = 0
    retries: int = 0
    connection_errors: int = 0
    jobs_submitted: int = 0
    jobs_tracked: int = 0
    jobs_finished: int = 0
    quota: Quota = Quota()
    submit_latency: DurationStats = DurationStats()
    detection_delay: DurationStats = DurationStats()


class Sink(Protocol):
    """Where a recorder also sends its events (OpenTelemetry: :mod:`sora_async.contrib.otel`)."""

    def attach(self, recorder: Recorder) -> None: ...

    def request_span(self, recorder: Recorder, kind: RequestKind, method: str) -> Any: ...

    def requested(self, recorder: Recorder, kind: RequestKind, outcome: dict[str, Any]) -> None:
        """One call ended; ``outcome`` has ``status_code`` or ``error_type``, ``seconds``."""

    def counted(self, recorder: Recorder, name: str) -> None: ...

    def timed(self, recorder: Recorder, name: str, seconds: float) -> None: ...


class _Durations:
    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.recent: deque[float] = deque(maxlen=_WINDOW)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.recent.append(seconds)

    def stats(self) -> DurationStats:
        if not self.recent:
            return DurationStats(count=self.count, total=self.total)
        ordered = sorted(self.recent)
        return DurationStats(
            count=self.count,
            total=self.total,
            p50=_quantile(ordered, 0.5),
            p90=_quantile(ordered, 0.9),
            max=ordered[-1],
        )


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class Recorder:
    """One client's counters; the transport and the client call it, and it calls its sink."""

    def __init__(
        self,
        provider: str,
        server: str,
        *,
        current: Callable[[], ClientMetrics | None] = lambda: None,
    ) -> None:
        self.provider = provider
        self.current = current  # the client's snapshot, for gauges
        self.server = server  # the base URL's host, for the spans (never a path or query)
        self.serial = next(_serials)  # tells two clients apart in OpenTelemetry
        self.requests = dict.fromkeys(_KINDS, 0)
        self.rate_limited = 0
        self.retries = 0
        self.connection_errors = 0
        self.jobs_submitted = 0
        self.jobs_finished = 0
        self.submit_latency = _Durations()
        self.detection_delay = _Durations()
        self._unfinished: dict[str, float] = {}  # job id -> when last seen unfinished
        self.sink: Sink | None = _default_sink()
        if self.sink is not None:
            self.sink.attach(self)

    def use(self, sink: Sink | None) -> None:
        """Send the events to ``sink`` from now on (``None``: nowhere but the snapshot)."""
        self.sink = sink
        if sink is not None:
            sink.attach(self)

    def request(self, kind: RequestKind, method: str) -> _Recording:
        """Around one call (``with``): its span, its duration, and what came of it."""
        return _Recording(self, kind, method)

    def _ended(self, kind: RequestKind, call: _Call, seconds: float, span: Any) -> None:
        self.requests[kind] += 1
        if call.rate_limited:
            self.rate_limited += 1
        if kind == "submit" and call.status_code is not None:
            self.submit_latency.add(seconds)
            if call.error_type is None:
                self.jobs_submitted += 1
        if self.sink is not None:
            outcome: dict[str, Any] = {"seconds": seconds}
            if call.status_code is not None:
                outcome["status_code"] = call.status_code
            if call.error_type is not None:
                outcome["error_type"] = call.error_type
            outcome["rate_limited"] = call.rate_limited
            outcome["span"] = span
            self.sink.requested(self, kind, outcome)

    def retried(self, *_: object) -> None:
        """The retry policy tries a call again (its ``on_retry``)."""
        self.retries += 1
        if self.sink is not None:
            self.sink.counted(self, "retries")

    def job_seen(self, job: Job) -> None:
        """A job's state came back (a submit's or a status answer)."""
        if job.is_terminal:
            return
        self._unfinished.pop(job.id, None)  # re-inserted last: the oldest go first
        self._unfinished[job.id] = time.monotonic()
        if len(self._unfinished) > _MAX_PENDING:
            del self._unfinished[next(iter(self._unfinished))]

    def job_ended(self, job: Job) -> None:
        """The poll scheduler saw a tracked job end (or gave up on it)."""
        last_unfinished = self._unfinished.pop(job.id, None)
        if not job.is_terminal:
            return
        self.jobs_finished += 1
        delay = _detection_delay(job, last_unfinished)
        if delay is not None:
            self.detection_delay.add(delay)
            if self.sink is not None:
                self.sink.timed(self, "detection_delay", delay)

    def snapshot(self, *, requests_sent: int, jobs_tracked: int, quota: Quota) -> ClientMetrics:
        return ClientMetrics(
            provider=self.provider,
            requests_sent=requests_sent,
            requests=dict(self.requests),
            rate_limited=self.rate_limited,
            retries=self.retries,
            connection_errors=self.connection_errors,
            jobs_submitted=self.jobs_submitted,
            jobs_tracked=jobs_tracked,
            jobs_finished=self.jobs_finished,
            quota=quota,
            submit_latency=self.submit_latency.stats(),
            detection_delay=self.detection_delay.stats(),
        )


class _Recording:
    """One call as :meth:`Recorder.request` records it.

    A class rather than a generator: entered and left on every request, the generator's
    machinery cost more than the recording itself.
    """

    __slots__ = ("_call", "_kind", "_live", "_method", "_recorder", "_span", "_started")

    def __init__(self, recorder: Recorder, kind: RequestKind, method: str) -> None:
        self._recorder = recorder
        self._kind = kind
        self._method = method
        self._call = _Call()
        self._span: Any = None
        self._live: Any = None
        self._started = 0.0

    def __enter__(self) -> _Call:
        recorder = self._recorder
        self._started = time.monotonic()
        if recorder.sink is not None:
            self._span = recorder.sink.request_span(recorder, self._kind, self._method)
        if self._span is not None:
            self._live = self._span.__enter__()
        return self._call

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        call = self._call
        try:
            if isinstance(exc, APIConnectionError):
                self._recorder.connection_errors += 1
                call.error_type = type(exc).__name__
            elif exc is not None:
                call.error_type = call.error_type or type(exc).__name__
            seconds = time.monotonic() - self._started
            self._recorder._ended(self._kind, call, seconds, self._live)
        finally:
            # The span ends last, once _ended has tagged it. (A span never swallows the
            # call's error, and neither does this: None.)
            if self._span is not None:
                self._span.__exit__(kind, exc, traceback)


class _Call:
    """What one call came to: filled in by the transport, read by the recorder."""

    status_code: int | None = None
    error_type: str | None = None
    rate_limited: bool = False

    def answered(self, answer: Answer) -> None:
        self.status_code = answer.response.status_code
        if answer.error is not None:
            self.error_type = type(answer.error).__name__
        self.rate_limited = isinstance(answer.error, RateLimitError) or self.status_code == 429


def _detection_delay(job: Job, last_unfinished: float | None) -> float | None:
    """How late the end of ``job`` was noticed: by the server's clock, bounded by ours."""
    bound = None if last_unfinished is None else time.monotonic() - last_unfinished
    if job.status is JobStatus.COMPLETED and job.completed_at is not None:
        by_server = max(0.0, (datetime.now(UTC) - job.completed_at).total_seconds())
        return by_server if bound is None else min(by_server, bound)
    return bound


def _default_sink() -> Sink | None:
    """OpenTelemetry's global providers, where ``opentelemetry-api`` is installed."""
    try:
        from .contrib.otel import default_sink
    except ImportError:
        return None
    return default_sink()
