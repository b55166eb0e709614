"""The router under a real uvicorn server on 127.0.0.1, the app's client on the simulator."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi_support import first_event, make_app, polls, read_events, wait_until

from sora_async import AsyncSoraClient
from sora_async.contrib.fastapi import SoraClient, get_sora_client, sora_lifespan
from sora_async.testing import serve_app, simulator_of

pytestmark = [
    pytest.mark.anyio,
    # uvicorn runs on asyncio only.
    pytest.mark.parametrize("anyio_backend", ["asyncio"]),
]

# Fixed service times, so that the reference run and the router run see the same jobs; five
# workers, so that half the jobs wait in the queue at first.
SETTINGS: dict[str, Any] = {
    "time_scale": 0.01,
    "seed": 11,
    "service_time": (30.0, 30.0),
    "workers": 5,
}
# The scheduler never polls on its own during a test: every status request is the router's.
NO_POLLS: dict[str, Any] = {"time_scale": 0.01, "poll_interval": 100.0, "max_poll_interval": 100.0}


def client_on(app: FastAPI) -> AsyncSoraClient:
    client = app.state.sora_client
    assert isinstance(client, AsyncSoraClient)
    return client


def status_requests(app: FastAPI) -> int:
    return simulator_of(client_on(app)).counters.requests.get("status", 0)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with (
        serve_app(app) as url,
        httpx.AsyncClient(base_url=url, limits=limits, timeout=20) as http,
    ):
        yield http


async def reference_polls(jobs: int) -> int:
    """The status and list requests ``jobs`` jobs need with one plain ``wait`` each."""
    async with AsyncSoraClient.simulated(**SETTINGS) as client:
        submitted = [await client.submit(f"reference {i}") for i in range(jobs)]
        async with anyio.create_task_group() as group:
            for job in submitted:
                group.start_soon(client.wait, job)
        return polls(simulator_of(client).counters)


async def test_many_listeners_share_one_poll_stream_per_job() -> None:
    app = make_app(simulate=True, **SETTINGS)
    streams: dict[str, list[list[Any]]] = {}
    async with running(app) as http:
        for i in range(10):
            job = (await http.post("/videos", json={"prompt": f"job {i}"})).json()
            streams[job["id"]] = []

        async def listen(job_id: str) -> None:
            streams[job_id].append(await read_events(http, f"/videos/{job_id}/events"))

        async with anyio.create_task_group() as group:
            for job_id in streams:
                for _ in range(10):
                    group.start_soon(listen, job_id)
        router = polls(simulator_of(client_on(app)).counters)
    reference = await reference_polls(10)

    for job_id, listeners in streams.items():
        assert len(listeners) == 10
        for events in listeners:
            assert all(name == "status" and data["id"] == job_id for name, data in events)
            assert events[-1][1]["status"] == "completed"
            assert events[-1][1]["video_url"]
    # Listeners joined while their job was pending, and saw it change (most do; a loaded
    # machine connects them later).
    assert sum(len(events) > 1 for listeners in streams.values() for events in listeners) >= 10
    # 100 listeners that each polled would make about ten times the reference's requests.
    # The two runs differ by a sweep or two of timing (list sweeps follow the clock), so
    # the bound is "not multiplied", not "equal".
    assert router < 2 * reference, (router, reference)


async def test_events_stream_every_change_once_in_order() -> None:
    app = make_app(simulate=True, time_scale=0.01, seed=2)
    async with running(app) as http:
        job = (await http.post("/videos", json={"prompt": "a lighthouse"})).json()
        events = await read_events(http, f"/videos/{job['id']}/events")
    statuses = [data["status"] for _, data in events]
    assert statuses[0] == "queued"
    assert statuses[-1] == "completed"
    assert statuses == sorted(statuses, key=["queued", "processing", "completed"].index)
    shown = [{k: v for k, v in data.items() if k != "quota"} for _, data in events]
    assert all(a != b for a, b in itertools.pairwise(shown))  # no repeats


async def test_a_finished_job_streams_one_event() -> None:
    app = make_app(simulate=True, time_scale=0.002)
    async with running(app) as http:
        job = (await http.post("/videos", json={"prompt": "a quick one"})).json()
        await wait_until(lambda: client_on(app).tracked_job(job["id"]) is None)
        events = await read_events(http, f"/videos/{job['id']}/events")
    assert [(name, data["status"]) for name, data in events] == [("status", "completed")]


async def test_get_video_is_served_from_memory_while_followed() -> None:
    app = make_app(simulate=True, **NO_POLLS)
    async with running(app) as http:
        posted = await http.post("/videos", json={"prompt": "a red fox", "aspect_ratio": "9:16"})
        assert posted.status_code == 202
        job = posted.json()
        assert job["status"] == "queued"
        before = status_requests(app)
        for _ in range(20):
            got = await http.get(f"/videos/{job['id']}")
            assert got.status_code == 200
            assert got.json()["id"] == job["id"]
        assert status_requests(app) == before


async def test_listeners_on_a_job_submitted_elsewhere_share_one_lookup() -> None:
    app = make_app(simulate=True, **NO_POLLS)
    async with running(app) as http:
        job = await client_on(app).submit("submitted by another part of the app")
        before = status_requests(app)
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(first_event, http, f"/videos/{job.id}/events")
        assert status_requests(app) == before + 1
        # Everyone hung up, and nobody submitted it here: nothing keeps following it.
        await wait_until(lambda: client_on(app).tracked_job(job.id) is None)
        assert status_requests(app) == before + 1


async def test_a_disconnect_drops_its_listener_but_the_job_is_still_followed() -> None:
    app = make_app(simulate=True, **NO_POLLS)
    async with running(app) as http:
        job = (await http.post("/videos", json={"prompt": "a paper boat"})).json()
        watches = app.state.sora_service._watches
        assert (await first_event(http, f"/videos/{job['id']}/events"))["id"] == job["id"]
        await wait_until(lambda: not watches[job["id"]].listeners)
        # Submitted here: followed to the end, so that GET stays free.
        assert client_on(app).tracked_job(job["id"]) is not None


async def test_batches_run_in_the_background_and_report_progress() -> None:
    app = make_app(simulate=True, time_scale=0.005, fail_prompts_containing="storm")
    prompts = ["a calm sea", "a storm at sea", "a harbour at dawn", "   "]
    async with running(app) as http:
        accepted = await http.post("/batches", json={"prompts": prompts, "aspect_ratio": "16:9"})
        assert accepted.status_code == 202
        batch_id = accepted.json()["batch_id"]
        view = (await http.get(f"/batches/{batch_id}")).json()
        assert view["state"] == "running"
        assert view["total"] == 4
        with anyio.fail_after(10):
            while view["state"] == "running":
                await anyio.sleep(0.05)
                view = (await http.get(f"/batches/{batch_id}")).json()
        job_ids = [item["job_id"] for item in view["items"] if item["job_id"]]
        before = status_requests(app)
        finished = [(await http.get(f"/videos/{job_id}")).json() for job_id in job_ids]
        assert status_requests(app) == before  # finished jobs are remembered
    assert view["state"] == "finished"
    # A blank prompt is one item's error, not a refused batch.
    assert (view["completed"], view["failed"], view["skipped"], view["errors"]) == (2, 1, 0, 1)
    assert (view["queued"], view["processing"], view["submitting"]) == (0, 0, 0)
    assert [item["index"] for item in view["items"]] == [0, 1, 2, 3]
    statuses = [item["status"] for item in view["items"]]
    assert statuses == ["completed", "failed", "completed", "error"]
    assert [job["status"] for job in finished] == ["completed", "failed", "completed"]


async def test_an_apps_own_lifespan_runs_inside_with_the_client_open() -> None:
    seen: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        client = app.state.sora_client
        job = await client.submit("made at startup")
        seen.append("started")
        yield {"startup_job": job.id}
        await client.get_job(job.id)  # still open at shutdown
        seen.append("stopped")

    app = FastAPI(lifespan=sora_lifespan(own, simulate=True, time_scale=0.01))

    @app.get("/startup-job")
    async def startup_job(request: Request, client: SoraClient) -> dict[str, Any]:
        job = await client.get_job(request.state.startup_job)
        return {"id": job.id, "same": client is get_sora_client(request)}

    async with running(app) as http:
        answer = (await http.get("/startup-job")).json()
    assert answer["same"] is True
    assert seen == ["started", "stopped"]
    assert not hasattr(app.state, "sora_client")


async def test_a_client_factory_is_used() -> None:
    made: list[AsyncSoraClient] = []

    def factory() -> AsyncSoraClient:
        made.append(AsyncSoraClient.simulated(provider="openai", time_scale=0.002))
        return made[-1]

    app = make_app(client=factory)
    async with running(app) as http:
        job = (await http.post("/videos", json={"prompt": "a crow", "seconds": 4})).json()
        assert job["status"] == "queued"
    assert len(made) == 1
    assert simulator_of(made[0]).counters.submits == 1
