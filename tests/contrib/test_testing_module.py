"""sora_async.testing: simulated clients, the fixture factory, served simulators and apps."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from fastapi import FastAPI

from sora_async import AsyncSoraClient, JobFailedError, JobStatus
from sora_async.contrib.fastapi import sora_lifespan
from sora_async.testing import (
    ManualClock,
    serve_app,
    serve_simulator,
    simulated_client,
    simulator_of,
    sora_client_fixture,
)

sora_client = sora_client_fixture(provider="openai", time_scale=0.002)


@pytest.mark.anyio
async def test_a_simulated_client_is_open_and_closed_around_the_block() -> None:
    async with simulated_client(provider="soravideo", time_scale=0.002) as client:
        job = await client.generate("a lighthouse at dusk")
        assert job.video_url
        assert simulator_of(client).settings.provider == "soravideo"
    assert "closed" in repr(client)


@pytest.mark.anyio
async def test_random_faults_are_retried_through() -> None:
    # Polls only: a submit answered 5xx is not resent (the job may exist), and which request
    # draws a fault depends on how many polls came first, which is timing.
    faults = {"error_rate": 0.3, "routes": {"status", "list"}}
    async with simulated_client(time_scale=0.002, seed=4, faults=faults) as client:
        result = await client.generate_batch([f"prompt {i}" for i in range(4)])
        counters = simulator_of(client).counters
    assert len(result.completed) == 4
    assert sum(n for status, n in counters.responses.items() if status >= 500) > 0


@pytest.mark.anyio
async def test_limits_and_failures_are_settings() -> None:
    async with simulated_client(time_scale=0.002, daily_limit=2) as client:
        result = await client.generate_batch(["one", "two", "three"])
    assert (len(result.completed), len(result.skipped)) == (2, 1)
    async with simulated_client(time_scale=0.002, failure_rate=1.0) as client:
        with pytest.raises(JobFailedError):
            await client.generate("this one fails")


@pytest.mark.anyio
async def test_scripted_faults_through_simulator_of() -> None:
    async with simulated_client(time_scale=0.002) as client:
        job = await client.submit("a paper boat")
        simulator_of(client).inject("5xx", route="status", status=502)
        assert (await client.get_job(job.id)).id == job.id  # retried through the 502
        assert simulator_of(client).counters.responses[502] == 1


# One worker and fixed 60-second jobs: at time_scale=0.01 a job starts 0.01 after its submit
# (the pickup delay) and takes 0.6.
ONE_WORKER = {"time_scale": 0.01, "workers": 1, "service_time": (60.0, 60.0)}


@pytest.mark.anyio
async def test_a_manual_clock_decides_when_jobs_move_on() -> None:
    clock = ManualClock()
    async with simulated_client(clock=clock, **ONE_WORKER) as client:
        first = await client.submit("a fox")
        second = await client.submit("a crow")
        for _ in range(3):  # however long the test takes, nothing moves on its own
            queued = await client.get_job(second.id)
            assert (queued.status, queued.queue_position) == (JobStatus.QUEUED, 2)
        clock.advance(0.31)  # half of the first job
        assert (await client.get_job(first.id)).status is JobStatus.PROCESSING
        assert (await client.get_job(second.id)).queue_position == 1
        clock.advance(0.35)  # the first is done; the second started at 0.61
        assert (await client.get_job(first.id)).status is JobStatus.COMPLETED
        assert (await client.get_job(second.id)).status is JobStatus.PROCESSING
        clock.advance(10)
        done = await client.wait(second)
    assert done.status is JobStatus.COMPLETED


@pytest.mark.anyio
async def test_a_served_simulator_reads_the_manual_clock_in_its_thread() -> None:
    clock = ManualClock()
    with serve_simulator(provider="openai", clock=clock, **ONE_WORKER) as server:
        async with server.client() as client:
            job = await client.submit("a red fox")
            assert (await client.get_job(job.id)).status is JobStatus.QUEUED
            clock.advance(10)
            assert (await client.get_job(job.id)).status is JobStatus.COMPLETED


@pytest.mark.parametrize(
    ("seconds", "error"),
    [(-0.1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
     ("1", TypeError), (True, TypeError), (None, TypeError)],
)  # fmt: skip
def test_a_manual_clock_moves_only_forward_by_a_number(seconds: object, error: type) -> None:
    clock = ManualClock()
    clock.advance(2)
    with pytest.raises(error, match="seconds"):
        clock.advance(seconds)  # type: ignore[arg-type]
    assert clock() == clock.advance(0) == 2.0
    assert repr(clock) == "ManualClock(now=2.0)"


def test_simulator_of_a_real_client_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not on a simulator"):
        simulator_of(AsyncSoraClient(api_key="sk-real"))


@pytest.mark.anyio
async def test_the_fixture_yields_an_open_simulated_client(sora_client: AsyncSoraClient) -> None:
    assert simulator_of(sora_client).settings.provider == "openai"
    assert (await sora_client.generate("a crow")).video_url


@pytest.mark.anyio
@pytest.mark.parametrize("sora_client", [{"provider": "codefast", "daily_limit": 0}], indirect=True)
async def test_the_fixture_takes_settings_per_test(sora_client: AsyncSoraClient) -> None:
    result = await sora_client.generate_batch(["no quota today"])
    assert len(result.skipped) == 1


@pytest.mark.anyio
async def test_a_served_simulator_answers_over_the_network() -> None:
    with serve_simulator(provider="openai", time_scale=0.002) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.url.endswith("/v1")
        async with server.client() as client:
            job = await client.generate("a red fox")
        assert job.video_url
        assert server.simulator.counters.submits == 1


def test_the_module_imports_without_pytest_fastapi_or_uvicorn() -> None:
    code = (
        "import sys\n"
        "sys.modules['pytest'] = None\n"
        "import sora_async.testing as t\n"
        "assert not {'fastapi', 'uvicorn', 'starlette'} & set(sys.modules)\n"
        "try:\n"
        "    t.sora_client_fixture()\n"
        "except ImportError:\n"
        "    print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_serve_app_runs_the_lifespan(monkeypatch: pytest.MonkeyPatch) -> None:
    app = FastAPI(lifespan=sora_lifespan(simulate=True, time_scale=0.01))

    @app.get("/ping")
    async def ping() -> str:
        return "pong"

    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/ping")).json() == "pong"
        assert isinstance(app.state.sora_client, AsyncSoraClient)
    assert not hasattr(app.state, "sora_client")

    monkeypatch.delenv("SORA_API_KEY", raising=False)
    no_key = FastAPI(lifespan=sora_lifespan())
    with pytest.raises(RuntimeError, match="did not start"):
        async with serve_app(no_key):
            pass
