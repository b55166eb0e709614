"""Shutting a server down while jobs are pending: no task leaked, nothing logged as an error."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi_support import make_app, read_events, wait_until

from sora_async import AsyncSoraClient
from sora_async.contrib.fastapi import uvicorn_server
from sora_async.testing import ManualClock

pytestmark = [
    pytest.mark.anyio,
    # uvicorn runs on asyncio only.
    pytest.mark.parametrize("anyio_backend", ["asyncio"]),
]


def pending_app() -> FastAPI:
    """An app on a simulator whose clock stands still: every job is pending when it stops."""
    return make_app(simulate=True, clock=ManualClock(), time_scale=1.0, poll_interval=0.05)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Any:
    # A uvicorn configured elsewhere in this process may have stopped its records reaching
    # caplog; let them through, and capture everything from INFO up.
    monkeypatch.setattr(logging.getLogger("uvicorn"), "propagate", True)
    caplog.set_level(logging.INFO)
    return caplog


def complaints(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING
        # A batch cut short names each job it leaves on the server: by design (issue 9).
        and not r.getMessage().startswith("the batch ended early")
    ]


async def start(server: uvicorn.Server, group: anyio.abc.TaskGroup) -> str:
    group.start_soon(server.serve)
    await wait_until(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def submit_work(http: httpx.AsyncClient) -> list[str]:
    """Three jobs and a batch of three, all left pending."""
    ids = [(await http.post("/videos", json={"prompt": f"job {i}"})).json()["id"] for i in range(3)]
    batch = await http.post("/batches", json={"prompts": ["one", "two", "three"]})
    assert batch.status_code == 202
    return ids


async def test_shutdown_ends_open_streams_and_cancels_pending_work(logs: Any) -> None:
    before = asyncio.all_tasks()
    app = pending_app()
    server = uvicorn_server(app, host="127.0.0.1", port=0, log_config=None, log_level="info")
    streams: list[list[Any]] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            url = await start(server, group)
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                ids = await submit_work(http)
                client: AsyncSoraClient = app.state.sora_client
                watches = app.state.sora_service._watches

                async def listen(job_id: str) -> None:
                    streams.append(await read_events(http, f"/videos/{job_id}/events"))

                async with anyio.create_task_group() as listeners:
                    for job_id in ids * 2:
                        listeners.start_soon(listen, job_id)
                    await wait_until(lambda: sum(len(w.listeners) for w in watches.values()) == 6)
                    server.should_exit = True  # as SIGINT/SIGTERM would
    # Every stream was ended by the server (after its one event), not cut.
    assert len(streams) == 6
    assert all([name for name, _ in events] == ["status"] for events in streams)
    assert all(events[0][1]["status"] == "queued" for events in streams)
    assert "closed" in repr(client)
    assert all(client.tracked_job(job_id) is None for job_id in ids)  # nothing left tracked
    assert not hasattr(app.state, "sora_service")
    assert asyncio.all_tasks() - before == set()
    assert complaints(logs) == []


async def test_plain_uvicorn_shuts_down_cleanly_with_pending_jobs(logs: Any) -> None:
    before = asyncio.all_tasks()
    app: FastAPI = pending_app()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, log_level="info")
    server = uvicorn.Server(config)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            url = await start(server, group)
            async with httpx.AsyncClient(base_url=url, timeout=10) as http:
                await submit_work(http)
                client: AsyncSoraClient = app.state.sora_client
                await wait_until(lambda: client.simulator is not None and client.requests_sent > 6)
            server.should_exit = True
    assert "closed" in repr(client)
    assert asyncio.all_tasks() - before == set()
    assert complaints(logs) == []
    assert any("Application shutdown complete" in r.getMessage() for r in logs.records)
