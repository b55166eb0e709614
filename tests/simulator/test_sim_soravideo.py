"""The soravideo protocol, in-process."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from sora_async.simulator import Simulator

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": "Bearer sk_test"}
QUOTA_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-Concurrent-Limit",
    "X-Concurrent-Active",
)
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def client(sim: Simulator, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=sim.transport(),
        base_url=sim.base_url,
        headers=AUTH if headers is None else headers,
    )


def sim_(**fields: object) -> Simulator:
    return Simulator(provider="soravideo", **fields)


def assert_error(answer: httpx.Response, status: int, code: int) -> dict[str, object]:
    body = answer.json()
    assert answer.status_code == status
    assert body["code"] == code
    assert body["data"] is None
    assert isinstance(body["msg"], str)
    return body


async def test_every_answer_has_the_envelope_and_quota_headers(clock) -> None:
    sim = sim_(time_scale=0.01, clock=clock)  # one 0.6 s rate window, however slow the test
    async with client(sim) as http:
        answers = [
            await http.post("/sora2/text-to-video", json={"prompt": "a cat"}),
            await http.get("/tasks/task_unknown"),
            await http.post("/sora2/text-to-video", json={"prompt": ""}),
            await http.get("/credits", headers={"Authorization": ""}),
            await http.get("/credits"),
        ]
    for answer in answers:
        assert set(answer.json()) >= {"code", "msg", "data"}
        for header in QUOTA_HEADERS:
            assert header in answer.headers, (answer.request.url, header)
    ok = answers[0]
    assert ok.json()["code"] == 200
    assert ok.json()["msg"] == "success"
    assert ok.json()["data"]["task_id"].startswith("task_")
    assert ok.headers["X-RateLimit-Limit"] == "20"
    assert ok.headers["X-Concurrent-Limit"] == "3"
    assert ok.headers["X-Concurrent-Active"] == "1"
    assert re.match(r"^\d+\.\d{3}$", ok.headers["X-RateLimit-Reset"])
    assert_error(answers[1], 404, 404)
    assert_error(answers[2], 400, 400)
    assert_error(answers[3], 401, 1003)
    # every authenticated request counted: submit, task, bad submit, credits
    assert answers[4].headers["X-RateLimit-Remaining"] == "16"


@pytest.mark.parametrize(
    ("header", "code"),
    [(None, 1003), ("Token sk_test", 1004), ("Bearer", 1004), ("Bearer wrong", 1001)],
)
async def test_authentication_codes(header: str | None, code: int) -> None:
    sim = sim_(api_key="sk_test")
    headers = {} if header is None else {"Authorization": header}
    async with client(sim, headers) as http:
        answer = await http.get("/credits")
    assert_error(answer, 401, code)
    assert "wrong" not in answer.text


async def test_task_progresses_to_completion_with_media_urls(clock) -> None:
    sim = sim_(time_scale=0.005, rate_limit=10_000, clock=clock)
    async with client(sim) as http:
        created = await http.post(
            "/sora2-pro/text-to-video",
            json={"prompt": "Cinematic sunset over mountains", "duration": 10, "quality": "high"},
        )
        task_id = created.json()["data"]["task_id"]
        history: list[dict[str, object]] = []
        for _ in range(2000):
            task = (await http.get(f"/tasks/{task_id}")).json()["data"]
            history.append(task)
            if task["status"] in ("completed", "failed"):
                break
            clock.t += 0.01  # two simulated seconds between polls
        done = history[-1]
    async with client(sim, {}) as anonymous:  # media URLs need no key
        thumb = await anonymous.get(str(done["thumbnail_url"]))
        video = await anonymous.get(str(done["video_url"]))
    statuses = [t["status"] for t in history]
    assert created.json()["data"]["status"] == "pending"
    assert statuses == sorted(statuses, key=["pending", "processing", "completed"].index)
    assert "processing" in statuses
    assert done["status"] == "completed"
    progress = [int(t["progress"]) for t in history]  # type: ignore[call-overload]
    assert progress == sorted(progress)
    assert progress[-1] == 100
    assert all("video_url" not in t for t in history[:-1])
    assert set(done) == {
        "task_id",
        "status",
        "progress",
        "created_at",
        "completed_at",
        "video_url",
        "thumbnail_url",
    }
    assert ISO.match(str(done["created_at"]))
    assert ISO.match(str(done["completed_at"]))
    assert done["video_url"] == f"http://soravideo.sim/files/{task_id}.mp4"
    assert video.content[4:8] == b"ftyp"
    assert thumb.headers["content-type"] == "image/png"
    assert thumb.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sora2/text-to-video", {"prompt": "x" * 2001}),
        ("/sora2/text-to-video", {"prompt": "x", "aspectRatio": "4:3"}),
        ("/sora2/text-to-video", {"prompt": "x", "duration": 20}),
        ("/sora2/text-to-video", {"prompt": "x", "duration": "10"}),
        ("/sora2/text-to-video", {"prompt": "x", "quality": "high"}),
        ("/sora2-pro/text-to-video", {"prompt": "x", "duration": 5}),
        ("/sora2/image-to-video", {"prompt": "x"}),
        ("/sora2/image-to-video", {"prompt": "x", "imageUrl": "http://example.com/a.jpg"}),
    ],
)
async def test_bad_parameters_get_400(path: str, body: dict[str, object]) -> None:
    sim = sim_()
    async with client(sim) as http:
        answer = await http.post(path, json=body)
    assert_error(answer, 400, 400)
    assert sim.jobs() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/sora2/text-to-video", {"prompt": "x" * 2000, "aspectRatio": "1:1", "duration": 5}),
        ("/sora2-pro/text-to-video", {"prompt": "x", "duration": 15, "quality": "high"}),
        ("/sora2/image-to-video", {"prompt": "bloom", "imageUrl": "https://cdn.example.com/a.jpg"}),
        ("/sora2-pro/image-to-video", {"prompt": "bloom", "imageUrl": "https://e.com/a.png"}),
    ],
)
async def test_valid_submissions(path: str, body: dict[str, object]) -> None:
    sim = sim_()
    async with client(sim) as http:
        answer = await http.post(path, json=body)
    assert answer.status_code == 200
    assert answer.json()["code"] == 200


async def test_upload_then_image_to_video() -> None:
    sim = sim_()
    image = bytes(range(256)) * 4
    async with client(sim) as http:
        uploaded = await http.post("/upload", files={"file": ("photo.jpg", image, "image/jpeg")})
        url = uploaded.json()["data"]["url"]
        async with client(sim, {}) as anonymous:
            served = await anonymous.get(url)
        created = await http.post(
            "/sora2/image-to-video", json={"imageUrl": url, "prompt": "The flower slowly blooms"}
        )
        forged = await http.post(
            "/sora2/image-to-video",
            json={"imageUrl": url.replace("upload-", "nope-"), "prompt": "x"},
        )
        empty = await http.post("/upload", files={"other": ("a.txt", b"hi", "text/plain")})
    assert uploaded.json()["code"] == 200
    assert url.startswith("http://soravideo.sim/files/uploads/") and url.endswith(".jpg")
    assert (served.status_code, served.content) == (200, image)
    assert served.headers["content-type"] == "image/jpeg"
    assert created.json()["code"] == 200
    assert_error(forged, 400, 400)
    assert_error(empty, 400, 400)


async def test_rolling_window_gives_2001_with_retry_after(clock) -> None:
    began = time.time()
    sim = sim_(time_scale=0.002, rate_limit=3, clock=clock)  # a 0.12 s window
    async with client(sim) as http:
        allowed = []
        for moment in (0.0, 0.01, 0.02):
            clock.t = moment
            allowed.append(await http.get("/credits"))
        clock.t = 0.05
        refused = await http.get("/credits")
        body = assert_error(refused, 429, 2001)
        wait = body["retryAfter"]
        assert isinstance(wait, float)
        assert wait == pytest.approx(0.07)  # the first request leaves the window at 0.12
        assert [a.headers["X-RateLimit-Remaining"] for a in allowed] == ["2", "1", "0"]
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        reset = float(refused.headers["X-RateLimit-Reset"])  # unix time of clock 0.12
        assert began + 0.119 <= reset <= time.time() + 0.121
        clock.t += wait + 0.001  # the server said when: no guessing
        again = await http.get("/credits")
    assert again.json()["code"] == 200
    assert sim.counters.rate_limited == 1


async def test_retry_after_is_whole_seconds_at_real_speed() -> None:
    sim = sim_(rate_limit=1)
    async with client(sim) as http:
        await http.get("/credits")
        refused = await http.get("/credits")
    assert assert_error(refused, 429, 2001)["retryAfter"] == 60
    assert re.match(r"^\d+$", refused.headers["X-RateLimit-Reset"])


async def test_concurrent_limit_gives_2002(clock) -> None:
    sim = sim_(clock=clock, service_time=(10.0, 10.0))
    async with client(sim) as http:
        for _ in range(3):
            assert (await http.post("/sora2/text-to-video", json={"prompt": "x"})).json()[
                "code"
            ] == 200
        refused = await http.post("/sora2/text-to-video", json={"prompt": "x"})
        assert_error(refused, 429, 2002)
        assert refused.headers["X-Concurrent-Active"] == "3"
        clock.t = 12.0
        assert (await http.post("/sora2/text-to-video", json={"prompt": "x"})).json()["code"] == 200
    assert sim.counters.max_active_tasks == 3


async def test_credits_and_3001() -> None:
    sim = sim_(credits=350, concurrent_limit=10)
    async with client(sim) as http:
        assert (await http.get("/credits")).json()["data"] == {"credits": 350}
        await http.post("/sora2-pro/text-to-video", json={"prompt": "x"})  # 200 credits
        await http.post("/sora2/text-to-video", json={"prompt": "x"})  # 100 credits
        refused = await http.post("/sora2/text-to-video", json={"prompt": "x"})
        left = (await http.get("/credits")).json()["data"]["credits"]
    assert_error(refused, 402, 3001)
    assert left == 50


async def test_daily_requests_give_2003_until_reset_day() -> None:
    sim = sim_(daily_limit=3)
    async with client(sim) as http:
        for _ in range(3):
            assert (await http.get("/credits")).json()["code"] == 200
        refused = await http.get("/tasks/whatever")
        sim.reset_day()
        again = await http.get("/credits")
    assert "resets at midnight UTC" in str(assert_error(refused, 429, 2003)["msg"])
    assert again.json()["code"] == 200


async def test_envelope_error_wins_over_http_200() -> None:
    sim = sim_()
    sim.inject("envelope_error", route="submit", message="upstream busy")
    async with client(sim) as http:
        answer = await http.post("/sora2/text-to-video", json={"prompt": "x"})
    assert answer.status_code == 200
    assert answer.json() == {"code": 500, "msg": "upstream busy", "data": None}
    assert "X-RateLimit-Limit" in answer.headers
    assert sim.jobs() == []
