"""The OpenAI-compatible Videos protocol, in-process."""

from __future__ import annotations

import time

import httpx
import pytest

from sora_async.simulator import Simulator

pytestmark = pytest.mark.anyio

AUTH = {"Authorization": "Bearer sk-test"}
VIDEO_KEYS = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "size",
    "seconds",
    "prompt",
    "remixed_from_video_id",
    "error",
}


def client(sim: Simulator, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=sim.transport(),
        base_url=sim.base_url,
        headers=AUTH if headers is None else headers,
    )


def assert_error(answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error  # type: ignore[no-any-return]


async def test_create_and_retrieve_until_completed(clock) -> None:
    before = int(time.time())
    sim = Simulator(provider="openai", time_scale=0.005, clock=clock)
    async with client(sim) as http:
        created = await http.post("/videos", json={"prompt": "a fox", "seconds": "8"})
        video = created.json()
        assert created.status_code == 200
        assert set(video) == VIDEO_KEYS
        assert (video["object"], video["status"], video["progress"]) == ("video", "queued", 0)
        assert (video["model"], video["size"], video["seconds"]) == ("sora-2", "720x1280", "8")
        assert video["id"].startswith("video_")
        assert before <= video["created_at"] <= time.time()
        assert video["completed_at"] is None
        assert int(created.headers["openai-poll-after-ms"]) >= 1
        history = []
        for _ in range(2000):
            answer = await http.get(f"/videos/{video['id']}")
            history.append(answer)
            if answer.json()["status"] == "completed":
                break
            # the server's own hint, scaled: 1 to 10 sim seconds at 5 ms each
            assert 5 <= int(answer.headers["openai-poll-after-ms"]) <= 50
            clock.t += 0.01  # two simulated seconds between polls
    statuses = [a.json()["status"] for a in history]
    assert "in_progress" in statuses
    assert statuses[-1] == "completed"
    done = history[-1]
    assert "openai-poll-after-ms" not in done.headers
    assert done.json()["progress"] == 100
    assert done.json()["completed_at"] >= video["created_at"]


async def test_multipart_create_with_input_reference() -> None:
    sim = Simulator(provider="openai")
    async with client(sim) as http:
        answer = await http.post(
            "/videos",
            data={
                "prompt": "animate this",
                "model": "sora-2-pro",
                "size": "1792x1024",
                "seconds": "12",
            },
            files={"input_reference": ("ref.png", b"\x89PNG...", "image/png")},
        )
        by_url = await http.post(
            "/videos",
            json={"prompt": "x", "input_reference": {"image_url": "https://e.com/a.png"}},
        )
    assert answer.status_code == 200
    assert (answer.json()["model"], answer.json()["size"], answer.json()["seconds"]) == (
        "sora-2-pro",
        "1792x1024",
        "12",
    )
    assert by_url.status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 32001}, "prompt"),
        ({"prompt": "x", "model": "sora-3"}, "model"),
        ({"prompt": "x", "seconds": 4}, "seconds"),
        ({"prompt": "x", "seconds": "5"}, "seconds"),
        ({"prompt": "x", "size": "640x480"}, "size"),
        ({"prompt": "x", "size": "1024x1792"}, "size"),  # sora-2-pro only
        ({"prompt": "x", "input_reference": "a.png"}, "input_reference"),
    ],
)
async def test_invalid_creates(body: dict[str, object], param: str) -> None:
    sim = Simulator(provider="openai")
    async with client(sim) as http:
        answer = await http.post("/videos", json=body)
    error = assert_error(answer, 400)
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    assert sim.jobs() == []


async def test_authentication_errors_do_not_echo_the_key() -> None:
    sim = Simulator(provider="openai", api_key="sk-right")
    async with client(sim, {}) as http:
        missing = await http.get("/videos")
        wrong = await http.get("/videos", headers={"Authorization": "Bearer sk-wrong-123"})
    assert assert_error(missing, 401)["code"] is None
    assert assert_error(wrong, 401)["code"] == "invalid_api_key"
    assert "sk-wrong-123" not in wrong.text


async def test_list_pagination(clock) -> None:
    sim = Simulator(provider="openai", clock=clock)
    async with client(sim) as http:
        ids = [
            (await http.post("/videos", json={"prompt": f"p{i}"})).json()["id"] for i in range(5)
        ]
        first = (await http.get("/videos", params={"limit": 2})).json()
        second = (await http.get("/videos", params={"limit": 2, "after": first["last_id"]})).json()
        ascending = (await http.get("/videos", params={"order": "asc"})).json()
        tail = (await http.get("/videos", params={"after": ids[1], "order": "asc"})).json()
        bad = [
            await http.get("/videos", params=params)
            for params in (
                {"limit": 0},
                {"limit": 101},
                {"limit": "x"},
                {"order": "up"},
                {"after": "video_nope"},
            )
        ]
        other = (await http.get("/videos", headers={"Authorization": "Bearer other"})).json()
    assert set(first) == {"object", "data", "first_id", "last_id", "has_more"}
    assert first["object"] == "list"
    assert [v["id"] for v in first["data"]] == [ids[4], ids[3]]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[4], ids[3], True)
    assert [v["id"] for v in second["data"]] == [ids[2], ids[1]]
    assert [v["id"] for v in ascending["data"]] == ids
    assert ascending["has_more"] is False
    assert [v["id"] for v in tail["data"]] == ids[2:]
    for answer in bad:
        assert_error(answer, 400)
    assert other == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


async def test_delete(clock) -> None:
    sim = Simulator(provider="openai", clock=clock)
    async with client(sim) as http:
        video_id = (await http.post("/videos", json={"prompt": "x"})).json()["id"]
        deleted = await http.delete(f"/videos/{video_id}")
        gone = await http.get(f"/videos/{video_id}")
        listing = (await http.get("/videos")).json()
    assert deleted.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert assert_error(gone, 404)["code"] == "video_not_found"
    assert listing["data"] == []


async def test_content_variants_need_completion_and_auth(clock) -> None:
    sim = Simulator(provider="openai", clock=clock)
    async with client(sim) as http:
        video_id = (await http.post("/videos", json={"prompt": "x"})).json()["id"]
        early = await http.get(f"/videos/{video_id}/content")
        clock.t = 200.0
        video = await http.get(f"/videos/{video_id}/content")
        thumb = await http.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
        sprite = await http.get(f"/videos/{video_id}/content", params={"variant": "spritesheet"})
        bad = await http.get(f"/videos/{video_id}/content", params={"variant": "gif"})
    async with client(sim, {}) as anonymous:
        refused = await anonymous.get(f"/videos/{video_id}/content")
    assert assert_error(early, 404)["code"] == "video_not_ready"
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    assert thumb.content.startswith(b"\x89PNG")
    assert sprite.status_code == 200
    assert_error(bad, 400)
    assert_error(refused, 401)


async def test_remix(clock) -> None:
    sim = Simulator(provider="openai", clock=clock)
    async with client(sim) as http:
        source = (
            await http.post(
                "/videos", json={"prompt": "x", "model": "sora-2-pro", "size": "1024x1792"}
            )
        ).json()
        early = await http.post(f"/videos/{source['id']}/remix", json={"prompt": "y"})
        clock.t = 200.0
        remix = await http.post(f"/videos/{source['id']}/remix", json={"prompt": "more snow"})
        missing = await http.post("/videos/video_nope/remix", json={"prompt": "y"})
    assert_error(early, 400)
    assert_error(missing, 404)
    body = remix.json()
    assert body["remixed_from_video_id"] == source["id"]
    assert (body["model"], body["size"], body["prompt"]) == ("sora-2-pro", "1024x1792", "more snow")
    assert body["status"] == "queued"
    assert sim.counters.requests["remix"] == 3
    assert sim.counters.submits == 2


async def test_failed_video_is_http_200_with_an_error(clock) -> None:
    sim = Simulator(provider="openai", clock=clock, failure_rate=1.0)
    async with client(sim) as http:
        video_id = (await http.post("/videos", json={"prompt": "x"})).json()["id"]
        clock.t = 200.0
        answer = await http.get(f"/videos/{video_id}")
    assert answer.status_code == 200
    assert answer.json()["status"] == "failed"
    assert answer.json()["error"] == {
        "code": "video_generation_failed",
        "message": "Content policy violation",
    }


async def test_rate_limit_headers_and_429(clock) -> None:
    sim = Simulator(provider="openai", clock=clock, rate_limit=2, time_scale=0.01)
    async with client(sim) as http:
        first = await http.get("/videos")
        clock.t = 0.1
        await http.get("/videos")
        refused = await http.get("/videos")
    assert first.headers["x-ratelimit-limit-requests"] == "2"
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-reset-requests"] == "600ms"
    error = assert_error(refused, 429)
    assert error["code"] == "rate_limit_exceeded"
    assert refused.headers["Retry-After"] == "0.5"
    assert refused.headers["x-ratelimit-reset-requests"] == "500ms"
    assert Simulator(provider="openai").settings.rate_limit is None
