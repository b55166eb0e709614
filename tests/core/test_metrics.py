"""client.metrics(): a frozen snapshot of requests, 429s, retries, quota, jobs and latencies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pydantic
import pytest
from core_support import eventually, simulated

from sora_async import APIConnectionError, Job, JobStatus
from sora_async._metrics import Recorder
from sora_async.testing import ManualClock, simulated_client, simulator_of

pytestmark = pytest.mark.anyio


async def test_a_batch_is_counted() -> None:
    async with simulated(daily_limit=20) as client:
        assert client.metrics().requests_sent == 0 and client.metrics().provider == "codefast"
        result = await client.generate_batch([f"prompt {i}" for i in range(4)])
        assert len(result.completed) == 4
        metrics = client.metrics()

    assert metrics.requests_sent == client.requests_sent
    assert metrics.requests["submit"] == metrics.jobs_submitted == 4
    assert metrics.requests["read"] == metrics.requests_sent - 4  # polls and list sweeps
    assert metrics.jobs_finished == 4 and metrics.jobs_tracked == 0
    assert metrics.quota.daily_remaining == 16
    assert metrics.submit_latency.count == 4 and metrics.submit_latency.total > 0
    assert metrics.detection_delay.count == 4
    assert 0 <= metrics.detection_delay.p50 <= metrics.detection_delay.max  # type: ignore[operator]
    assert metrics.rate_limited == metrics.retries == metrics.connection_errors == 0
    with pytest.raises(pydantic.ValidationError):
        metrics.retries = 3  # type: ignore[misc]


async def test_429s_retries_and_connection_errors_are_counted() -> None:
    async with simulated() as client:
        sim = simulator_of(client)
        sim.inject("429", route="submit", retry_after=0.001)
        sim.inject("5xx", route="status", status=502)
        sim.inject("timeout", route="status")
        job = await client.submit("a fox")
        await client.get_job(job.id)
        metrics = client.metrics()

    assert metrics.rate_limited == 1
    assert metrics.retries == 3  # the 429'd submit, the 502'd status, the timed-out status
    assert metrics.connection_errors == 1
    assert metrics.requests["submit"] == 2 and metrics.jobs_submitted == 1
    assert metrics.submit_latency.count == 2  # both submits were answered


async def test_jobs_tracked_while_a_wait_goes_on() -> None:
    clock = ManualClock()
    async with simulated_client(clock=clock, time_scale=0.01) as client:
        job = await client.submit("a slow fox")
        async with anyio.create_task_group() as group:
            group.start_soon(client.wait, job)
            await eventually(lambda: client.metrics().jobs_tracked == 1)
            clock.advance(10.0)  # past any service time: the job is done
            await eventually(lambda: client.metrics().jobs_finished == 1)
        assert client.metrics().jobs_tracked == 0


# -- the detection delay, on a clock the test moves ------------------------------------------


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr("sora_async._metrics.time.monotonic", lambda: now[0])
    return now


def _job(status: JobStatus, completed_ago: float | None = None) -> Job:
    completed = None
    if completed_ago is not None:
        completed = datetime.now(UTC) - timedelta(seconds=completed_ago)
    return Job(id="j1", status=status, raw_status=status.value, completed_at=completed)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(
    ("completed_ago", "expected"),
    [
        (None, 30.0),  # no completed_at: the time since it was last seen unfinished
        (5.0, 5.0),  # the server says when it ended
        (500.0, 30.0),  # a server clock far behind: never more than our bound
        (-60.0, 0.0),  # a server clock ahead: never below zero
    ],
)
async def test_detection_delay(
    ticks: list[float], completed_ago: float | None, expected: float
) -> None:
    recorder = Recorder("codefast", "example.test")
    recorder.use(None)
    recorder.job_seen(_job(JobStatus.PROCESSING))
    ticks[0] += 30.0
    recorder.job_ended(_job(JobStatus.COMPLETED, completed_ago))
    stats = recorder.detection_delay.stats()
    assert stats.count == 1
    assert stats.max == pytest.approx(expected, abs=0.5)


class _OrderSink:
    """A sink that writes down what happens to one call's span, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def attach(self, recorder: Any) -> None: ...

    def request_span(self, recorder: Any, kind: str, method: str) -> Any:
        events = self.events

        class Span:
            def __enter__(self) -> str:
                events.append(f"span {kind} {method}")
                return "live"

            def __exit__(self, *exc: object) -> None:
                events.append(f"end {exc[0].__name__ if exc[0] else 'ok'}")

        return Span()

    def requested(self, recorder: Any, kind: str, outcome: dict[str, Any]) -> None:
        shown = outcome.get("status_code", outcome.get("error_type"))
        self.events.append(f"requested {kind} {shown} in {outcome['span']}")

    def counted(self, recorder: Any, name: str) -> None: ...

    def timed(self, recorder: Any, name: str, seconds: float) -> None: ...


def test_a_recorded_call_is_tagged_before_its_span_ends_and_its_error_goes_on() -> None:
    recorder = Recorder("codefast", "api.example")
    sink = _OrderSink()
    recorder.use(sink)
    with recorder.request("read", "GET") as call:
        call.status_code = 200
    with pytest.raises(APIConnectionError), recorder.request("submit", "POST"):
        raise APIConnectionError("reset")
    with pytest.raises(KeyError), recorder.request("write", "POST"):
        raise KeyError("x")
    assert sink.events == [
        "span read GET",
        "requested read 200 in live",
        "end ok",
        "span submit POST",
        "requested submit APIConnectionError in live",
        "end APIConnectionError",
        "span write POST",
        "requested write KeyError in live",
        "end KeyError",
    ]
    assert recorder.connection_errors == 1
    assert recorder.requests == {"submit": 1, "read": 1, "write": 1, "download": 0}
