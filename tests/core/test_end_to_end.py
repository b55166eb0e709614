"""A new user's bulk script, over a real socket (uvicorn on 127.0.0.1), for every provider."""

from __future__ import annotations

import anyio
import pytest
from core_support import PROVIDERS

from sora_async import AsyncSoraClient, Job, JobStatus
from sora_async.simulator import Simulator

pytestmark = pytest.mark.anyio

SCALE = 0.002


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_submit_twenty_then_wait_for_all(provider: str) -> None:
    # No slack on soravideo's 20 a window: the client's pacing must draw no 429, even when
    # a busy machine delivers requests to the server in another order than they were sent.
    # Jobs of 10-30 sim s (the default is 30-90): soravideo's window (20 requests a sim
    # minute) still paces every request of the batch.
    simulator = Simulator(
        provider=provider, time_scale=SCALE, daily_limit=100, service_time=(10.0, 30.0)
    )
    with simulator.serve_in_thread() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        client = AsyncSoraClient(
            provider=provider,
            base_url=base_url,
            api_key="sk-e2e",
            poll_interval=3 * SCALE,
            max_poll_interval=30 * SCALE,
        )
        client.scale_time(SCALE)
        async with client:
            jobs = [await client.submit(f"prompt number {i}") for i in range(20)]
            done: list[Job] = []

            async def wait_for(job: Job) -> None:
                done.append(await client.wait(job, timeout=60))

            async with anyio.create_task_group() as group:
                for job in jobs:
                    group.start_soon(wait_for, job)
    assert len(done) == 20
    assert all(job.status is JobStatus.COMPLETED and job.video_url for job in done)
    assert simulator.counters.submits == 20
    assert simulator.counters.rate_limited == 0
