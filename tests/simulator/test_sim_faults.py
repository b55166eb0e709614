"""Fault injection (scripted and random), counters and the admin routes, in-process."""

from __future__ import annotations

import json
import time

import anyio
import httpx
import pytest

from sora_async.simulator import Simulator

pytestmark = pytest.mark.anyio

HEADERS = {
    "codefast": {"X-API-Key": "k"},
    "soravideo": {"Authorization": "Bearer k"},
    "openai": {"Authorization": "Bearer k"},
}
SUBMIT = {
    "codefast": ("/generate", {"prompt": "x"}),
    "soravideo": ("/sora2/text-to-video", {"prompt": "x"}),
    "openai": ("/videos", {"prompt": "x"}),
}
STATUS = {"codefast": "/status/{}", "soravideo": "/tasks/{}", "openai": "/videos/{}"}
PROVIDERS = ["codefast", "soravideo", "openai"]


def client(sim: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=sim.transport(),
        base_url=sim.base_url,
        headers=HEADERS[sim.settings.provider],
    )


async def submit(http: httpx.AsyncClient, sim: Simulator) -> httpx.Response:
    path, body = SUBMIT[sim.settings.provider]
    return await http.post(path, json=body)


def job_id(answer: httpx.Response) -> str:
    body = answer.json()
    return str(body.get("job_id") or body.get("id") or body["data"]["task_id"])


class SlowMachine:
    """A clock that reads ten seconds later each time: a machine so busy that every step of
    a request takes longer than a job's pickup delay."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 10.0
        return self.t


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_submit_is_answered_as_accepted_however_slow_the_machine(provider: str) -> None:
    # A new job is always queued (the pickup delay): the answer says so, even if the clock
    # moved on while the request was being answered.
    sim = Simulator(provider=provider, clock=SlowMachine())
    async with client(sim) as http:
        answer = (await submit(http, sim)).json()
    status = answer.get("status") or answer["data"]["status"]
    assert status in ("queued", "pending")
    if provider == "codefast":
        assert (answer["queue_position"], answer["total_in_queue"]) == (1, 1)
    if provider == "openai":
        assert answer["progress"] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_5xx_in_the_provider_format(provider: str) -> None:
    sim = Simulator(provider=provider)
    sim.inject("5xx", route="submit", status=502, times=2)
    async with client(sim) as http:
        answers = [await submit(http, sim) for _ in range(3)]
    assert [a.status_code for a in answers] == [502, 502, 200]
    body = answers[0].json()
    if provider == "codefast":
        assert body == {"detail": "Bad Gateway"}
    elif provider == "soravideo":
        assert (body["code"], body["data"]) == (502, None)
        assert "X-RateLimit-Limit" in answers[0].headers
    else:
        assert body["error"]["type"] == "server_error"
    assert len(sim.jobs()) == 1  # the gateway answered: nothing was created
    assert sim.counters.responses == {502: 2, 200: 1}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_injected_429_carries_a_scaled_retry_after(provider: str) -> None:
    sim = Simulator(provider=provider, time_scale=0.01)
    sim.inject("429", retry_after=5)
    async with client(sim) as http:
        answer = await submit(http, sim)
    assert answer.status_code == 429
    if provider == "soravideo":
        assert answer.json()["code"] == 2001
        assert answer.json()["retryAfter"] == 0.05
    else:
        assert answer.headers["Retry-After"] == "0.05"
    assert sim.jobs() == []
    assert sim.counters.rate_limited == 1


async def test_html_error_page() -> None:
    sim = Simulator(provider="soravideo")
    sim.inject("html")
    async with client(sim) as http:
        answer = await http.get("/credits")
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert "<html>" in answer.text
    with pytest.raises(json.JSONDecodeError):
        answer.json()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_malformed_json_keeps_the_job(provider: str) -> None:
    sim = Simulator(provider=provider)
    sim.inject("malformed_json", route="submit")
    async with client(sim) as http:
        answer = await submit(http, sim)
        after = await submit(http, sim)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        answer.json()
    assert after.status_code == 200
    assert len(sim.jobs()) == 2  # the truncated answer was for a real submission


async def test_slow_answers_are_scaled() -> None:
    sim = Simulator(provider="codefast", time_scale=0.01)
    sim.inject("slow", route="check_key", seconds=5)
    async with client(sim) as http:
        began = time.perf_counter()
        slow = await http.get("/")
        slow_time = time.perf_counter() - began
        after = await http.get("/")
    assert (slow.status_code, after.status_code) == (200, 200)
    assert slow_time >= 0.045
    assert sim.counters.requests["check_key"] == 2


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_drop_after_accept_spends_the_quota(provider: str) -> None:
    sim = Simulator(provider=provider)
    sim.inject("drop_after_accept")
    async with client(sim) as http:
        first_status = await http.get(STATUS[provider].format("unknown"))  # not a submit
        with pytest.raises(httpx.RemoteProtocolError):
            await submit(http, sim)
        second = await submit(http, sim)
    assert first_status.status_code == 404
    assert second.status_code == 200
    assert len(sim.jobs()) == 2
    assert (sim.counters.dropped, sim.counters.submits) == (1, 2)
    if provider == "codefast":
        assert second.json()["daily_limit_remaining"] == 18


async def test_timeout_creates_nothing() -> None:
    sim = Simulator(provider="codefast")
    sim.inject("timeout", route="submit")
    async with client(sim) as http:
        with pytest.raises(httpx.ReadTimeout):
            await submit(http, sim)
        after = await submit(http, sim)
    assert after.json()["daily_limit_remaining"] == 19
    assert len(sim.jobs()) == 1
    assert sim.counters.requests["submit"] == 2
    assert sim.counters.in_flight == 0


async def test_scripted_faults_fire_in_order_and_before_random_ones() -> None:
    sim = Simulator(provider="codefast")
    sim.faults.error_rate = 1.0
    sim.inject("html", route="check_key")
    sim.inject("429", route="check_key")
    async with client(sim) as http:
        statuses = [(await http.get("/")).status_code for _ in range(3)]
    assert statuses[:2] == [502, 429]
    assert statuses[2] in (500, 502, 503)


async def test_random_faults_are_seeded_and_route_filtered() -> None:
    async def run(seed: int) -> list[int]:
        sim = Simulator(provider="codefast", seed=seed)
        sim.faults.error_rate = 0.3
        sim.faults.html_error_rate = 0.2
        sim.faults.routes = {"check_key"}
        async with client(sim) as http:
            statuses = [(await http.get("/")).status_code for _ in range(40)]
            assert (await http.get("/videos")).status_code == 200  # not in routes
        return statuses

    first = await run(1)
    assert first == await run(1)
    assert first != await run(2)
    assert {200, 502} <= set(first)
    assert set(first) <= {200, 500, 502, 503}


async def test_random_503_says_when_to_retry() -> None:
    sim = Simulator(provider="openai", time_scale=0.5)
    sim.faults.error_rate = 1.0
    async with client(sim) as http:
        answers = [await http.get("/videos") for _ in range(30)]
    unavailable = [a for a in answers if a.status_code == 503]
    assert unavailable
    assert {a.headers["Retry-After"] for a in unavailable} == {"0.5"}


async def test_random_drops_only_hit_submits() -> None:
    sim = Simulator(provider="openai")
    sim.faults.drop_after_submit_rate = 1.0
    async with client(sim) as http:
        assert (await http.get("/videos")).status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await submit(http, sim)
    assert len(sim.jobs()) == 1


def test_inject_validates_its_arguments() -> None:
    sim = Simulator(provider="codefast")
    with pytest.raises(ValueError, match="unknown fault kind"):
        sim.inject("boom")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="soravideo"):
        sim.inject("envelope_error")
    with pytest.raises(ValueError, match="route"):
        sim.inject("5xx", route="nowhere")
    with pytest.raises(ValueError, match="create jobs"):
        sim.inject("drop_after_accept", route="status")
    with pytest.raises(TypeError, match="no parameter"):
        sim.inject("html", status=500)
    with pytest.raises(ValueError, match="between 500 and 599"):
        sim.inject("5xx", status=404)
    with pytest.raises(ValueError, match="at least 1"):
        sim.inject("5xx", times=0)


async def test_poll_counters_track_concurrency() -> None:
    sim = Simulator(provider="codefast", time_scale=0.01)
    sim.inject("slow", route="status", times=5, seconds=5)
    sim.inject("slow", route="check_key", times=2, seconds=5)
    async with client(sim) as http:
        job = job_id(await submit(http, sim))
        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(http.get, f"/status/{job}")
            for _ in range(2):
                group.start_soon(http.get, "/")
    counters = sim.counters
    assert counters.max_poll_in_flight == 5
    assert counters.max_in_flight == 7
    assert (counters.in_flight, counters.poll_in_flight) == (0, 0)
    assert counters.requests == {"submit": 1, "status": 5, "check_key": 2}
    assert counters.total == 8
    assert counters.responses == {200: 8}
    sim.reset_counters()
    assert (sim.counters.total, sim.counters.max_poll_in_flight, sim.counters.requests) == (
        0,
        0,
        {},
    )


async def test_admin_routes() -> None:
    sim = Simulator(provider="soravideo", daily_limit=1)
    async with client(sim) as http:
        await submit(http, sim)
        refused = await http.get("/credits")
        counters = (await http.get("/_sim/counters")).json()
        jobs = (await http.get("/_sim/jobs")).json()
        assert (await http.post("/_sim/reset-day")).json() == {"ok": True}
        assert (await http.get("/credits")).json()["code"] == 200
        assert (await http.post("/_sim/reset")).json() == {"ok": True}
        injected = await http.post("/_sim/inject", json={"kind": "5xx", "status": 500})
        faulty = await http.get("/credits")
        bad = await http.post("/_sim/inject", json={"kind": "nope"})
        faults = await http.post("/_sim/faults", json={"slow_rate": 0.25})
        bad_faults = await http.post("/_sim/faults", json={"slow_rate": 3})
        missing = await http.get("/_sim/nothing")
    assert refused.json()["code"] == 2003
    assert counters["total"] == 2
    assert counters["requests"] == {"submit": 1, "credits": 1}
    assert counters["responses"] == {"200": 1, "429": 1}
    assert len(jobs) == 1
    assert set(jobs[0]) == {
        "id",
        "key_hash",
        "prompt",
        "status",
        "submitted_at",
        "started_at",
        "finished_at",
        "failed",
    }
    assert injected.json() == {"ok": True}
    assert faulty.status_code == 500
    assert bad.status_code == 400
    assert faults.json()["slow_rate"] == 0.25
    assert sim.faults.slow_rate == 0.25
    assert bad_faults.status_code == 400
    assert missing.status_code == 404
    assert sim.counters.total == 1  # admin requests are not counted
