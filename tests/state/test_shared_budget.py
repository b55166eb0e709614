"""The budget in a real Redis, shared by clients that cannot see each other.

Clients here run in one process but share nothing but the Redis URL and the key: what one
learns reaches the others only through Redis.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

import anyio
import pytest
from state_support import RedisServer

from sora_async import AsyncSoraClient, BatchResult, InvalidRequestError, Job, Limits
from sora_async.state import SharedStateError, make_budget
from sora_async.state._redis import namespace_for
from sora_async.testing import SimulatorServer, serve_simulator

KEY = "sk-shared-secret-0123456789"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # redis.asyncio is asyncio-only (trio: see the test below)


pytestmark = pytest.mark.anyio


async def run_batches(
    server: SimulatorServer, url: str | None, sizes: list[int], **options: object
) -> list[BatchResult]:
    results: list[BatchResult] = []

    async def one(n: int, size: int) -> None:
        async with server.client(shared_state=url, api_key=KEY, **options) as client:
            results.append(await client.generate_batch([f"c{n} p{i}" for i in range(size)]))

    async with anyio.create_task_group() as group:
        for n, size in enumerate(sizes):
            group.start_soon(one, n, size)
    return results


async def test_three_clients_keep_the_published_limits_together(redis: RedisServer) -> None:
    with serve_simulator(provider="soravideo", time_scale=0.005) as server:
        results = await run_batches(server, redis.url, [4, 4, 4])
        counters = server.simulator.counters
    assert [len(r.completed) for r in results] == [4, 4, 4]
    assert counters.rate_limited == 0
    assert counters.max_active_tasks <= 3
    assert counters.submits == 12


async def test_without_sharing_the_same_clients_draw_429s() -> None:
    # The baseline the shared budget fixes: each client keeps the limits alone.
    with serve_simulator(provider="soravideo", time_scale=0.005) as server:
        await run_batches(server, None, [4, 4, 4], max_retries=8)
        assert server.simulator.counters.rate_limited > 0


async def test_a_shared_daily_limit_is_spent_once(redis: RedisServer) -> None:
    with serve_simulator(provider="openai", time_scale=0.01) as server:
        results = await run_batches(server, redis.url, [4, 4], limits=Limits(daily_limit=5))
        assert server.simulator.counters.submits == 5
    assert sum(len(r.completed) for r in results) == 5
    assert sum(len(r.skipped) for r in results) == 3


async def test_the_key_is_never_stored_in_clear(redis: RedisServer) -> None:
    with serve_simulator(provider="soravideo", time_scale=0.01) as server:
        await run_batches(server, redis.url, [2])
        namespace = namespace_for("soravideo", server.url, KEY)
    stored = redis.keys_and_values()
    assert stored and all(KEY.encode() not in item for item in stored)
    keys = [item for item in stored if item.startswith(b"sora_async:")]
    assert keys and all(key.startswith(namespace.encode()) for key in keys)
    assert namespace_for("soravideo", server.url, KEY + "x") != namespace


async def test_a_pause_one_client_learns_all_obey(redis: RedisServer) -> None:
    provider = AsyncSoraClient(api_key=KEY, provider="soravideo").provider
    first = make_budget(redis.url, provider=provider, api_key=KEY)
    second = make_budget(redis.url, provider=provider, api_key=KEY)
    try:
        await first.open()
        await second.open()
        await first.back_off(30.0)
        with anyio.move_on_after(0.3) as scope:
            await second.admit()
        assert scope.cancelled_caught  # still paused: it cannot pass for 30 s
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_crashed_process_leases_lapse(redis: RedisServer) -> None:
    provider = AsyncSoraClient(api_key=KEY, provider="soravideo").provider
    crashed = make_budget(redis.url, provider=provider, api_key=KEY, time_scale=0.02)
    survivor = make_budget(redis.url, provider=provider, api_key=KEY, time_scale=0.02)
    await crashed.open()
    for n in range(3):  # every slot of soravideo's 3, held by jobs that never end
        async with crashed.submission() as ticket:
            ticket.accepted(f"job-{n}", counted_by_server=False)
    # No renewal runs for ``crashed`` (its process is gone): the leases lapse, and the
    # survivor gets a slot; nothing is lost for good.
    with anyio.fail_after(20):  # a guard against a hang, not a measurement
        async with survivor.submission() as ticket:
            ticket.accepted("job-new", counted_by_server=False)
    await survivor.aclose()


async def test_held_leases_are_renewed_while_the_process_lives(redis: RedisServer) -> None:
    provider = AsyncSoraClient(api_key=KEY, provider="soravideo").provider
    holder = make_budget(redis.url, provider=provider, api_key=KEY, time_scale=0.1)  # 3 s
    other = make_budget(redis.url, provider=provider, api_key=KEY, time_scale=0.1)
    async with anyio.create_task_group() as group:
        group.start_soon(holder.run)
        for n in range(3):
            async with holder.submission() as ticket:
                ticket.accepted(f"job-{n}", counted_by_server=False)
        with anyio.move_on_after(3.5) as scope:  # past one lease: renewed, still held
            async with other.submission():
                pass
        assert scope.cancelled_caught
        holder.job_finished("job-1")  # the job ends: its slot frees at once
        with anyio.fail_after(20):
            async with other.submission() as ticket:
                ticket.accepted("job-3", counted_by_server=False)
        group.cancel_scope.cancel()
    await holder.aclose()
    await other.aclose()


async def test_unreachable_redis_is_a_typed_error_at_open(redis: RedisServer) -> None:
    redis.kill()
    client = AsyncSoraClient(api_key=KEY, provider="openai", shared_state=redis.url)
    with pytest.raises(SharedStateError, match="unreachable"):
        async with client:
            pass


async def test_redis_killed_mid_run_fails_safe_and_loses_no_job(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="sora_async")
    # Three tasks at once and one submit at a time: the fourth submit waits for a slot (a
    # job's whole run, 0.3 s at least) while Redis is killed, so the kill lands mid-run.
    with serve_simulator(provider="codefast", time_scale=0.01, workers=1) as server:
        simulator = server.simulator

        async def kill_after_three() -> None:
            # The counters change in the server's thread: nothing to wait on but them.
            while simulator.counters.submits < 3:  # noqa: ASYNC110
                await anyio.sleep(0.005)
            redis.kill()

        client = server.client(
            shared_state=redis.url, api_key=KEY, limits=Limits(concurrent_tasks=3)
        )
        async with client, anyio.create_task_group() as group:
            group.start_soon(kill_after_three)
            prompts = [f"p{i}" for i in range(12)]
            result = await client.generate_batch(prompts, max_submitting=1)
        submitted = simulator.counters.submits
        server_ids = {job["id"] for job in simulator_jobs(server)}
    kept = {item.job.id for item in result.items if item.job is not None}
    assert 3 <= submitted < 12
    assert kept == server_ids  # every id the server gave is in the results, once
    assert len(server_ids) == submitted  # nothing was sent twice
    refused = [item for item in result.items if item.job is None]
    assert refused and all("shared state" in str(item.error) for item in refused)
    assert any("unreachable" in record.getMessage() for record in caplog.records)


def simulator_jobs(server: SimulatorServer) -> list[dict[str, object]]:
    import httpx

    answer = httpx.get(httpx.URL(server.url).copy_with(path="/_sim/jobs")).json()
    return list(answer["jobs"] if isinstance(answer, dict) else answer)


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_shared_state_on_trio_is_refused_plainly(redis: RedisServer) -> None:
    client = AsyncSoraClient(api_key=KEY, provider="openai", shared_state=redis.url)
    with pytest.raises(InvalidRequestError, match="asyncio"):
        async with client:
            pass


@pytest.mark.parametrize("value", ["http://cache:6379", "", 6379, "redis:/x"])
def test_a_bad_shared_state_is_refused_before_anything(value: object) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        AsyncSoraClient(api_key=KEY, shared_state=value)  # type: ignore[arg-type]
    assert caught.value.field == "shared_state"


def test_the_environment_names_the_shared_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_SHARED_STATE", "ftp://nope")
    with pytest.raises(InvalidRequestError):
        AsyncSoraClient(api_key=KEY)
    monkeypatch.setenv("SORA_SHARED_STATE", "redis://127.0.0.1:1/0")
    assert "RedisBudget" in type(AsyncSoraClient(api_key=KEY)._budget).__name__


def a_job(job_id: str, status: str = "processing") -> Job:
    return Job(id=job_id, status=status, raw_status=status, progress=40)


async def test_a_look_another_process_just_made_is_reused(redis: RedisServer) -> None:
    provider = AsyncSoraClient(api_key=KEY, provider="soravideo").provider
    first = make_budget(redis.url, provider=provider, api_key=KEY)
    second = make_budget(redis.url, provider=provider, api_key=KEY)
    polls: list[str] = []

    async def poll() -> tuple[Job, float | None]:
        polls.append("sent")
        return a_job("j1"), 1.0

    assert await first.look("j1", poll, fresh_for=30.0) == (a_job("j1"), 1.0)
    job, hint = await second.look("j1", poll, fresh_for=30.0)
    assert (job, hint) == (a_job("j1"), None)
    assert polls == ["sent"]  # one request for both processes
    await first.aclose()
    await second.aclose()


async def test_a_look_in_progress_elsewhere_is_awaited_not_repeated(redis: RedisServer) -> None:
    provider = AsyncSoraClient(api_key=KEY, provider="soravideo").provider
    first = make_budget(redis.url, provider=provider, api_key=KEY)
    second = make_budget(redis.url, provider=provider, api_key=KEY)
    started, release = anyio.Event(), anyio.Event()
    polls: list[str] = []
    seen: list[Job] = []

    async def slow_poll() -> tuple[Job, float | None]:
        polls.append("first")
        started.set()
        await release.wait()
        return a_job("j2", "completed"), None

    async def other_poll() -> tuple[Job, float | None]:
        polls.append("second")
        return a_job("j2"), None

    async def second_looks() -> None:
        seen.append((await second.look("j2", other_poll, fresh_for=30.0))[0])

    # Tells when the second process asked for the poll lease and was refused it.
    refused = anyio.Event()
    ask_lease = second._redis.set  # type: ignore[attr-defined]

    async def watched_ask(*args: Any, **kwargs: Any) -> Any:
        taken = await ask_lease(*args, **kwargs)
        if not taken:
            refused.set()
        return taken

    second._redis.set = watched_ask  # type: ignore[attr-defined]
    async with anyio.create_task_group() as group:
        group.start_soon(partial(first.look, "j2", slow_poll, fresh_for=30.0))
        await started.wait()  # the first process holds the poll lease
        group.start_soon(second_looks)
        with anyio.fail_after(30):  # the second found the lease taken: it waits, not polls
            await refused.wait()
        release.set()
    assert polls == ["first"]
    assert seen[0].status == "completed"  # the first's answer, not one of its own
    await first.aclose()
    await second.aclose()


async def follow_one_job(redis: RedisServer, followers: int) -> int:
    """Status requests the simulator saw while ``followers`` clients waited on one job."""
    # Polls 60 ms apart at 0.02: on a loaded machine a Redis round trip took a share of
    # that, and a follower polled before the shared look was seen (7 vs 3); 0.04 leaves room.
    with serve_simulator(provider="soravideo", time_scale=0.04) as server:
        async with AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(server.client(shared_state=redis.url, api_key=KEY))
                for _ in range(followers)
            ]
            job = await clients[0].submit("one job, several followers")
            done: list[Job] = []

            async def follow(client: AsyncSoraClient) -> None:
                done.append(await client.wait(job.id))

            async with anyio.create_task_group() as group:
                for client in clients:
                    group.start_soon(follow, client)
        assert [d.status for d in done] == ["completed"] * followers
        return server.simulator.counters.requests["status"]


async def test_clients_following_one_job_share_one_stream_of_polls(redis: RedisServer) -> None:
    # Like the workers serving SSE listeners of one job: without sharing, four followers
    # made four times the polls of one (measured 5 vs 21); shared, about one stream. The
    # bound sits between the two: under 3x, where four unshared streams make 4x.
    alone = await follow_one_job(redis, 1)
    four = await follow_one_job(redis, 4)
    assert four < 3 * alone, (four, alone)


async def test_sora_lifespan_takes_shared_state(redis: RedisServer) -> None:
    import httpx
    from fastapi import FastAPI

    from sora_async.contrib.fastapi import create_router, sora_lifespan
    from sora_async.testing import serve_app

    with serve_simulator(provider="openai", time_scale=0.01) as server:
        lifespan = sora_lifespan(
            provider="openai", base_url=server.url, api_key=KEY, shared_state=redis.url
        )
        app = FastAPI(lifespan=lifespan)
        app.include_router(create_router())
        async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as http:
            answer = await http.post("/videos", json={"prompt": "a fox"})
        assert answer.status_code == 202
    namespace = namespace_for("openai", server.url, KEY).encode()
    assert any(item.startswith(namespace) for item in redis.keys_and_values())


def test_a_missing_redis_extra_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(InvalidRequestError) as caught:
        AsyncSoraClient(api_key=KEY, shared_state="redis://cache:6379/0")
    assert str(caught.value) == (
        "shared_state: needs the redis extra: pip install 'sora-async[redis]'"
    )
