"""Leaving a batch early loses no job id (issue 9): a break, a cancellation or an error in
the caller's loop leaves every job the server took reachable: yielded, or named once in a
WARNING, and listed by ``client.submitted_jobs()``."""

from __future__ import annotations

import logging
import re

import anyio
import pytest
from core_support import simulated

from sora_async import AsyncSoraClient

pytestmark = pytest.mark.anyio

PROMPTS = [f"prompt {i}" for i in range(30)]
_WARNED = re.compile(r"the batch ended early: prompt (\d+) is job (\S+) on the server")


def slow_client() -> AsyncSoraClient:
    # 30-90 sim seconds a job at 0.01: the batch is still busy when the caller leaves.
    return simulated("openai", time_scale=0.01, service_time=(30.0, 90.0))


def warned(caplog: pytest.LogCaptureFixture) -> dict[int, str]:
    named: dict[int, str] = {}
    for record in caplog.records:
        match = _WARNED.match(record.getMessage())
        if match and record.levelno == logging.WARNING and record.name == "sora_async":
            index = int(match[1])
            assert index not in named, f"prompt {index} named twice"
            named[index] = match[2]
    return named


def check_every_id_reachable(
    client: AsyncSoraClient, yielded: dict[int, str], caplog: pytest.LogCaptureFixture
) -> None:
    assert client.simulator is not None
    on_server = {job.id for job in client.simulator.jobs()}
    named = warned(caplog)
    assert on_server, "the server took nothing: the test proves nothing"
    assert not yielded.keys() & named.keys()  # named once: yielded, or in a WARNING
    assert set(yielded.values()) | set(named.values()) == on_server
    listed = {index: job.id for index, job in client.submitted_jobs()}
    assert set(listed.values()) == on_server
    assert {**yielded, **named} == listed  # with the prompt's index


async def test_a_break_loses_no_job_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sora_async")
    client = slow_client()
    yielded: dict[int, str] = {}
    async with client:
        async for item in client.generate_many(PROMPTS):
            assert item.job_id is not None
            yielded[item.index] = item.job_id
            if len(yielded) == 3:
                break
    check_every_id_reachable(client, yielded, caplog)


async def test_a_cancelled_batch_loses_no_job_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sora_async")
    client = slow_client()
    async with client:
        with anyio.move_on_after(0.3) as scope:
            await client.generate_batch(PROMPTS)
        assert scope.cancelled_caught
        # Still followed until the client closes: a later state shows up with no request.
        assert client._scheduler.tracked > 0
    check_every_id_reachable(client, {}, caplog)


async def test_an_error_in_the_callers_loop_loses_no_job_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sora_async")
    client = slow_client()
    yielded: dict[int, str] = {}

    async def caller() -> None:
        async with client:
            async for item in client.generate_many(PROMPTS):
                assert item.job_id is not None
                yielded[item.index] = item.job_id
                if len(yielded) == 2:
                    raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await caller()
    check_every_id_reachable(client, yielded, caplog)


async def test_generate_batch_outside_async_with_loses_no_job_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sora_async")
    client = slow_client()
    with anyio.move_on_after(0.3):
        await client.generate_batch(PROMPTS)
    check_every_id_reachable(client, {}, caplog)
    await client.aclose()


async def test_a_whole_batch_names_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sora_async")
    async with simulated("openai") as client:
        result = await client.generate_batch(PROMPTS[:5])
    assert not warned(caplog)
    assert {index: job.id for index, job in client.submitted_jobs()} == {
        item.index: item.job_id for item in result.items
    }
    assert all(job.is_terminal for _, job in client.submitted_jobs())  # latest states
