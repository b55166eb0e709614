"""The client on the openai protocol: jobs settled from lists lose nothing, and the calls
the official package added (edit, extend, characters)."""

from __future__ import annotations

import pytest

from sora_async.testing import simulated_client, simulator_of

pytestmark = pytest.mark.anyio


async def test_a_waited_job_is_as_whole_as_a_fetched_one() -> None:
    # openai lists whole video objects: a job the scheduler settles from a list keeps its
    # progress, end time and model, as a status request would have them.
    async with simulated_client(provider="openai", time_scale=0.002) as client:
        jobs = [await client.submit(f"a fox, take {i}") for i in range(3)]
        waited = [await client.wait(job) for job in jobs]
        fetched = [await client.get_job(job.id) for job in jobs]
        assert simulator_of(client).counters.requests.get("list", 0) >= 1
    for done, again in zip(waited, fetched, strict=True):
        assert (done.progress, done.completed_at) == (100.0, again.completed_at)
        assert done.completed_at is not None
        assert done.model == again.model == "sora-2"


async def test_dated_model_names_are_sent_as_named() -> None:
    async with simulated_client(provider="openai", time_scale=0.002) as client:
        job = await client.submit("a fox", model="sora-2-pro-2025-10-06", size="1792x1024")
        assert job.model == "sora-2-pro-2025-10-06"
