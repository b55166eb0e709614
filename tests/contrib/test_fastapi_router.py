"""The router under a real uvicorn server on 127.0.0.1, the app's client on the simulator."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi_support import first_event, make_app, polls, read_events, wait_until

from sora_async import AsyncSoraClient
from sora_async.contrib.fastapi import SoraClient, get_sora_client, sora_lifespan
from sora_async.testing import ManualClock, serve_app, simulator_of

pytestmark = [
    pytest.mark.anyio,
    # uvicorn runs on asyncio only.
    pytest.mark.parametrize("anyio_backend", ["asyncio"]),
]

# The scheduler never polls on its own during a test: every status request is the router's.
NO_POLLS: dict[str, Any] = {"time_scale": 0.01, "poll_interval": 100.0, "max_poll_interval": 100.0}


def client_on(app: FastAPI) -> AsyncSoraClient:
    client = app.state.sora_client
    assert isinstance(client, AsyncSoraClient)
    return client


def status_requests(app: FastAPI) -> int:
    return simulator_of(client_on(app)).counters.requests.get("status", 0)


def listening(app: FastAPI) -> int:
    """Event streams connected to the app's followed jobs."""
    return sum(len(watch.listeners) for watch in app.state.sora_service._watches.values())


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with (
        serve_app(app) as url,
        httpx.AsyncClient(base_url=url, limits=limits, timeout=20) as http,
    ):
        yield http


async def post_jobs(http: httpx.AsyncClient, count: int) -> list[str]:
    return [
        (await http.post("/videos", json={"prompt": f"job {i}"})).json()["id"] for i in range(count)
    ]


async def test_many_listeners_add_no_polls() -> None:
    # Time stands still and the scheduler does not poll on its own, so any status or list
    # request while 100 listeners join 10 jobs would be theirs.
    app = make_app(simulate=True, clock=ManualClock(), **NO_POLLS)
    async with running(app) as http:
        job_ids = await post_jobs(http, 10)
        before = polls(simulator_of(client_on(app)).counters)
        async with anyio.create_task_group() as group:
            for job_id in job_ids * 10:
                group.start_soon(read_events, http, f"/videos/{job_id}/events")
            await wait_until(lambda: listening(app) == 100, timeout=30)
            assert polls(simulator_of(client_on(app)).counters) == before
            group.cancel_scope.cancel()  # the listeners hang up
        assert [client_on(app).tracked_job(job_id) is not None for job_id in job_ids] == [True] * 10


async def test_every_listener_follows_its_job_from_queued_to_completed() -> None:
    clock = ManualClock()
    app = make_app(simulate=True, clock=clock, time_scale=0.01)
    streams: dict[str, list[list[Any]]] = {}
    async with running(app) as http:
        job_ids = await post_jobs(http, 10)

        async def listen(job_id: str) -> None:
            streams.setdefault(job_id, []).append(
                await read_events(http, f"/videos/{job_id}/events")
            )

        async with anyio.create_task_group() as group:
            for job_id in job_ids * 10:
                group.start_soon(listen, job_id)
            await wait_until(lambda: listening(app) == 100, timeout=30)
            clock.advance(10)  # 1,000 simulated seconds: every job is done
    assert sorted(streams) == sorted(job_ids)
    for job_id, listeners in streams.items():
        assert len(listeners) == 10
        for events in listeners:
            assert all(name == "status" and data["id"] == job_id for name, data in events)
            assert events[0][1]["status"] == "queued"  # they all joined before time moved
            assert events[-1][1]["status"] == "completed"
            assert events[-1][1]["video_url"]


async def test_events_stream_every_change_once_in_order() -> None:
    clock = ManualClock()
    # The job starts 0.01 after its submit and takes 0.3 (30 simulated seconds).
    app = make_app(simulate=True, clock=clock, time_scale=0.01, service_time=(30.0, 30.0))

    def move_on(event: tuple[str, dict[str, Any]]) -> None:
        if event[1]["status"] == "queued":
            clock.advance(max(0.0, 0.15 - clock()))  # to the middle of the job
        else:
            clock.advance(10)  # to long after its end

    async with running(app) as http:
        job = (await http.post("/videos", json={"prompt": "a lighthouse"})).json()
        events = await read_events(http, f"/videos/{job['id']}/events", on_event=move_on)
    statuses = [data["status"] for _, data in events]
    assert statuses[0] == "queued"
    assert "processing" in statuses
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
        everyone_in = anyio.Event()

        async def listen_until_everyone_is_in() -> None:
            async with http.stream("GET", f"/videos/{job.id}/events"):
                # Connected and subscribed once the app is following the job for it.
                await wait_until(lambda: listening(app) == 8 or everyone_in.is_set())
                everyone_in.set()

        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(listen_until_everyone_is_in)
        # Eight listeners at once: one lookup. (One who hung up before the next came would
        # leave nobody listening, and the next would look it up again.)
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


COUNTS = ("submitting", "queued", "processing", "completed", "failed", "skipped", "errors")


async def test_batches_run_in_the_background_and_report_progress() -> None:
    clock = ManualClock()
    app = make_app(simulate=True, clock=clock, time_scale=0.005, fail_prompts_containing="storm")
    prompts = ["a calm sea", "a storm at sea", "a harbour at dawn", "a lighthouse"]
    views: list[dict[str, Any]] = []
    async with running(app) as http:
        accepted = await http.post("/batches", json={"prompts": prompts, "aspect_ratio": "16:9"})
        assert accepted.status_code == 202
        batch_id = accepted.json()["batch_id"]

        async def view_when(condition: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
            with anyio.fail_after(10):
                while True:
                    view: dict[str, Any] = (await http.get(f"/batches/{batch_id}")).json()
                    views.append(view)
                    if condition(view):
                        return view
                    await anyio.sleep(0.01)

        # Time stands still: the four jobs wait in the queue, and nothing is left to submit.
        pending = await view_when(lambda view: view["queued"] == 4)
        assert (pending["state"], pending["total"], pending["submitting"]) == ("running", 4, 0)
        assert pending["completed"] == pending["failed"] == pending["processing"] == 0
        clock.advance(10)  # 2,000 simulated seconds: every job has ended
        view = await view_when(lambda view: view["state"] != "running")
        job_ids = [item["job_id"] for item in view["items"] if item["job_id"]]
        before = status_requests(app)
        finished = [(await http.get(f"/videos/{job_id}")).json() for job_id in job_ids]
        assert status_requests(app) == before  # finished jobs are remembered
    # Every view counts each prompt once, however early it was taken.
    assert [sum(v[name] for name in COUNTS) for v in views] == [4] * len(views)
    assert view["state"] == "finished"
    assert (view["completed"], view["failed"], view["skipped"], view["errors"]) == (3, 1, 0, 0)
    assert (view["queued"], view["processing"], view["submitting"]) == (0, 0, 0)
    assert [item["index"] for item in view["items"]] == [0, 1, 2, 3]
    statuses = [item["status"] for item in view["items"]]
    assert statuses == ["completed", "failed", "completed", "completed"]
    assert [job["status"] for job in finished] == ["completed", "failed", "completed", "completed"]


async def test_a_bad_prompt_refuses_the_whole_batch_before_anything_is_sent() -> None:
    app = make_app(simulate=True, **NO_POLLS)
    async with running(app) as http:
        blank = await http.post("/batches", json={"prompts": ["a calm sea", "a crow", "   "]})
        long = await http.post("/batches", json={"prompts": ["a fox", "x" * 5000]})
        counters = simulator_of(client_on(app)).counters
        assert counters.submits == 0
    assert blank.status_code == long.status_code == 422
    assert blank.json()["error"]["field"] == "prompts[2]"
    assert "empty or blank" in blank.json()["error"]["message"]
    assert long.json()["error"]["field"] == "prompts[1]"


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
