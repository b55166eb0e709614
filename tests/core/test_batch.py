"""Bulk generation invariants, checked through the simulator's counters."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest
from core_support import eventually, simulated

from sora_async import BatchProgress, GenerationRequest, JobStatus
from sora_async.testing import ManualClock

pytestmark = pytest.mark.anyio


async def test_poll_requests_in_flight_never_exceed_poll_concurrency() -> None:
    async with simulated("soravideo", concurrent_limit=10**6, rate_limit=10**6) as client:
        client._scheduler._semaphore = anyio.Semaphore(2)
        result = await client.generate_batch([f"p{i}" for i in range(30)], max_submitting=30)
    assert client.simulator is not None
    assert len(result.completed) == 30
    assert 1 <= client.simulator.counters.max_poll_in_flight <= 2


@pytest.mark.parametrize("provider", ["codefast", "openai"])
async def test_list_sweeps_respect_poll_concurrency(provider: str) -> None:
    async with simulated(provider, poll_concurrency=1, daily_limit=10**6) as client:
        result = await client.generate_batch([f"p{i}" for i in range(25)])
    assert client.simulator is not None
    assert len(result.completed) == 25
    assert client.simulator.counters.max_poll_in_flight == 1
    # One submit per prompt; requests per video are measured in benchmarks/.
    counters = client.simulator.counters.requests
    assert counters["submit"] == 25


async def test_active_tasks_never_exceed_the_concurrent_limit() -> None:
    clock = ManualClock()
    async with simulated("soravideo", clock=clock) as client, anyio.create_task_group() as group:
        sim = client.simulator
        assert sim is not None
        results = []

        async def run() -> None:
            results.append(
                await client.generate_batch([f"p{i}" for i in range(10)], max_submitting=10)
            )
            group.cancel_scope.cancel()

        group.start_soon(run)
        # While time stands still, three jobs take every slot and the rest wait for one.
        await eventually(lambda: sim.counters.submits == 3)
        assert sim.counters.max_active_tasks == 3
        while True:  # then time moves on, a job's length at a time, until the batch ends
            clock.advance(0.2)
            await anyio.sleep(0.02)
    (result,) = results
    assert len(result.completed) == 10
    assert sim.counters.max_active_tasks == 3
    assert sim.counters.rate_limited == 0


async def test_submit_all_then_wait_all_under_a_task_limit() -> None:
    async with simulated("soravideo") as client:
        jobs = [await client.submit(f"p{i}") for i in range(6)]
        done = [await client.wait(job) for job in jobs]
    assert all(job.status is JobStatus.COMPLETED for job in done)
    assert client.simulator is not None
    assert client.simulator.counters.max_active_tasks <= 3


async def test_daily_limit_skips_the_rest_without_a_429() -> None:
    async with simulated("codefast", daily_limit=5) as client:
        result = await client.generate_batch([f"p{i}" for i in range(12)], max_submitting=12)
    sim = client.simulator
    assert sim is not None
    assert sim.counters.submits == 5
    assert sim.counters.requests["submit"] == 5
    assert sim.counters.rate_limited == 0
    assert 429 not in sim.counters.responses
    assert len(result.completed) == 5
    assert len(result.skipped) == 7
    for item in result.skipped:
        assert item.error and "daily limit" in item.error
        assert item.reset_at is not None and item.job is None
    assert "resets" in result.summary()


async def test_job_ids_survive_polls_that_fail_for_good() -> None:
    async with simulated("soravideo", max_retries=1) as client:
        sim = client.simulator
        assert sim is not None
        sim.faults.routes = {"status"}
        sim.faults.error_rate = 1.0
        result = await client.generate_batch([f"p{i}" for i in range(3)])
    assert len(result.errors) == 3
    for item in result.errors:
        assert item.job is not None and item.job.id
        assert item.error and "ServerError" in item.error


async def test_transient_faults_still_finish_every_item() -> None:
    async with simulated("codefast", daily_limit=10**6) as client:
        sim = client.simulator
        assert sim is not None
        sim.faults.routes = {"status", "list"}
        sim.faults.error_rate = 0.15
        sim.faults.html_error_rate = 0.1
        sim.faults.malformed_json_rate = 0.05
        sim.inject("429", route="submit", times=4, retry_after=2.0)
        result = await client.generate_batch([f"p{i}" for i in range(15)])
    assert len(result.completed) == 15, result.summary()
    assert sim.counters.submits == 15


async def test_failures_are_items_with_their_reason() -> None:
    async with simulated("openai", fail_prompts_containing="[fail]") as client:
        result = await client.generate_batch(["fine", "this will [fail]", "   ", "also fine"])
    statuses = [item.status for item in result.items]
    assert statuses == ["completed", "failed", "error", "completed"]
    assert result.items[1].error and result.items[1].job is not None
    assert result.items[2].error and "prompt" in result.items[2].error
    assert set(result.urls) == {0, 3}


async def test_prompts_are_read_lazily_from_sync_and_async_sources() -> None:
    read = 0

    def endless() -> Iterator[str]:
        nonlocal read
        for i in range(10**9):
            read += 1
            yield f"prompt {i}"

    async with simulated("openai") as client:
        got = 0
        async for _ in client.generate_many(endless(), max_submitting=2):
            got += 1
            if got == 3:
                break
    # An endless source works: it is read only as far as the bound on unfinished jobs.
    assert 3 <= read <= 10_000 + 2

    async def source() -> AsyncIterator[GenerationRequest]:
        for i in range(4):
            yield GenerationRequest(prompt=f"async {i}")

    async with simulated("openai") as client:
        result = await client.generate_batch(source())
    assert [item.request.prompt for item in result.items] == [f"async {i}" for i in range(4)]


async def test_leaving_early_cancels_cleanly() -> None:
    async with simulated("soravideo", concurrent_limit=10**6, rate_limit=10**6) as client:
        async for _item in client.generate_many([f"p{i}" for i in range(20)]):
            break
        await eventually(lambda: client._scheduler.tracked == 0)
        assert client._transport._connections.value == 32
    assert client._task_group is None


async def test_cancelling_a_batch_leaks_nothing() -> None:
    client = simulated("openai", time_scale=1.0)
    async with client:
        with anyio.move_on_after(0.2) as scope:
            await client.generate_batch([f"p{i}" for i in range(10)])
        assert scope.cancelled_caught
        assert client._transport._connections.value == 32
        # Only the jobs the server took are followed still (for client.submitted_jobs()).
        unfinished = [job for _, job in client.submitted_jobs() if not job.is_terminal]
        assert client._scheduler.tracked == len(unfinished)


async def test_progress_events_drive_a_display() -> None:
    events: list[BatchProgress] = []
    async with simulated("codefast", daily_limit=3) as client:
        await client.generate_batch([f"p{i}" for i in range(5)], on_progress=events.append)
    last = events[-1]
    assert (last.completed, last.skipped, last.finished) == (3, 2, 5)
    assert last.source_done and last.quota.daily_remaining == 0
    assert last.requests_sent >= 3
    assert any(e.queued or e.processing for e in events)


async def test_two_waiters_share_one_stream_of_polls() -> None:
    clock = ManualClock()  # the job cannot end before all five wait on it
    async with simulated("soravideo", clock=clock) as client:
        job = await client.submit("shared")
        results = []

        async def waiter() -> None:
            results.append(await client.wait(job))

        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(waiter)
            # Five waiters (and the task-slot follower) on one entry: one stream of polls.
            await eventually(lambda: len(client._scheduler._entries[job.id].listeners) == 6)
            assert client._scheduler.tracked == 1
            clock.advance(10)
    assert len(results) == 5
    assert len({r.video_url for r in results}) == 1


async def test_adaptive_polling_uses_far_fewer_requests_than_a_fixed_poll() -> None:
    async with simulated("soravideo", concurrent_limit=10**6, rate_limit=10**6) as client:
        result = await client.generate_batch([f"p{i}" for i in range(12)])
    sim = client.simulator
    assert sim is not None
    assert len(result.completed) == 12
    polls_per_job = sim.counters.requests["status"] / 12
    # A seed-style loop polls every 3 s for 30-90 s videos: about 20 per job.
    fixed = math.ceil(60 / 3)
    assert polls_per_job < fixed / 3


async def test_a_failing_progress_callback_does_not_stop_the_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(progress: BatchProgress) -> None:
        raise ValueError("display bug")

    async with simulated("codefast") as client:
        result = await client.generate_batch(["a", "b"], on_progress=broken)
    assert len(result.completed) == 2
    assert "on_progress callback failed" in caplog.text
