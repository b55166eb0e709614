"""The codefast protocol, in-process."""

from __future__ import annotations

import base64
import re

import anyio
import httpx
import pytest

from sora_async.simulator import Simulator

pytestmark = pytest.mark.anyio

KEY = {"X-API-Key": "cf_test_key"}
STAMP = re.compile(r"^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}$")
SUBMIT_KEYS = {
    "job_id",
    "status",
    "queue_position",
    "total_in_queue",
    "aspect_ratio",
    "model",
    "daily_limit",
    "daily_limit_remaining",
}
FULL_KEYS = SUBMIT_KEYS | {"video_url", "error", "created_at", "started_at", "completed_at"}
SHORT_KEYS = {"job_id", "status", "aspect_ratio", "model", "video_url", "completed_at"}
TEXT = {"prompt": "A beautiful sunset over mountains", "aspect_ratio": "16:9"}


def client(sim: Simulator, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=sim.transport(),
        base_url=sim.base_url,
        headers=KEY if headers is None else headers,
    )


async def test_key_check() -> None:
    sim = Simulator(provider="codefast", api_key="cf_test_key")
    async with client(sim) as http:
        ok = await http.get("/")
        missing = await http.get("/", headers={"X-API-Key": ""})
        wrong = await http.get("/", headers={"X-API-Key": "nope"})
    assert ok.status_code == 200
    assert ok.json() == {"message": "Video Generator API", "status": "running"}
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert set(wrong.json()) == {"detail"}
    assert "nope" not in wrong.text


async def test_submit_status_and_list_follow_the_clock(clock) -> None:
    sim = Simulator(provider="codefast", clock=clock, workers=1, service_time=(10.0, 10.0))
    async with client(sim) as http:
        submitted = [(await http.post("/generate", json=TEXT)).json() for _ in range(3)]
        first, _, third = (job["job_id"] for job in submitted)
        assert set(submitted[0]) == SUBMIT_KEYS
        assert [j["status"] for j in submitted] == ["queued"] * 3
        assert [j["queue_position"] for j in submitted] == [1, 2, 3]
        assert [j["total_in_queue"] for j in submitted] == [1, 2, 3]
        assert [j["daily_limit_remaining"] for j in submitted] == [19, 18, 17]
        assert submitted[0]["model"] == "sora-2-landscape"

        waiting = (await http.get(f"/status/{third}")).json()
        assert set(waiting) == FULL_KEYS
        assert (waiting["status"], waiting["queue_position"], waiting["total_in_queue"]) == (
            "queued",
            3,
            3,
        )
        assert waiting["started_at"] == waiting["completed_at"] == waiting["video_url"] == ""
        assert STAMP.match(waiting["created_at"])
        assert waiting["model"] == "sora_video2-landscape-hd"

        clock.t = 2.0
        running = (await http.get(f"/status/{first}")).json()
        assert (running["status"], running["queue_position"], running["total_in_queue"]) == (
            "processing",
            0,
            0,
        )
        assert STAMP.match(running["started_at"])
        assert running["error"] == ""
        assert (await http.get(f"/status/{third}")).json()["queue_position"] == 2
        assert (await http.get("/videos")).json()["count"] == 0

        clock.t = 12.0
        done = (await http.get(f"/status/{first}")).json()
        assert set(done) == SHORT_KEYS
        assert done["status"] == "completed"
        assert done["video_url"] == f"http://codefast.sim/files/{first}.mp4"
        assert STAMP.match(done["completed_at"])
        assert (await http.get(f"/status/{third}")).json()["queue_position"] == 1

        clock.t = 40.0
        listing = (await http.get("/videos")).json()
        assert set(listing) == {"count", "videos", "daily_limit", "daily_limit_remaining"}
        assert listing["count"] == 3
        ids = [video["job_id"] for video in listing["videos"]]
        assert ids == [job["job_id"] for job in reversed(submitted)]  # newest first
        assert set(listing["videos"][0]) == {"job_id", "video_url", "created_at"}
    async with client(sim, {}) as anonymous:  # video URLs need no key
        video = await anonymous.get(done["video_url"])
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert int(video.headers["content-length"]) == len(video.content)
    assert video.content[4:8] == b"ftyp"


async def test_completes_in_real_time_at_a_small_time_scale() -> None:
    sim = Simulator(provider="codefast", time_scale=0.001)
    async with client(sim) as http:
        job_id = (await http.post("/generate", json=TEXT)).json()["job_id"]
        seen = []
        for _ in range(2000):
            status = (await http.get(f"/status/{job_id}")).json()
            if not seen or seen[-1] != status["status"]:
                seen.append(status["status"])
            if status["status"] == "completed":
                break
            await anyio.sleep(0.002)
    assert seen[-1] == "completed"
    assert seen == [s for s in ("queued", "processing", "completed") if s in seen]


async def test_portrait_and_image_submits() -> None:
    sim = Simulator(provider="codefast", clock=lambda: 0.0)
    image = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake").decode()
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": image}},
                    {"type": "text", "text": "Make this image come to life"},
                ],
            }
        ],
        "aspect_ratio": "9:16",
    }
    async with client(sim) as http:
        answer = await http.post("/generate", json=body)
        status = (await http.get(f"/status/{answer.json()['job_id']}")).json()
    assert answer.status_code == 200
    assert answer.json()["model"] == "sora-2-portrait"
    assert status["model"] == "sora_video2-portrait-hd"
    assert status["aspect_ratio"] == "9:16"
    assert sim.jobs()[0].prompt == "Make this image come to life"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"aspect_ratio": "16:9"}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
        ({"prompt": "x", "model": "sora-3"}, "model"),
        ({"prompt": "x", "aspect_ratio": "16:9", "model": "sora-2-portrait"}, "model"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "messages"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/png;base64,@@@"},
                            },
                            {"type": "text", "text": "go"},
                        ],
                    }
                ]
            },
            "messages",
        ),
    ],
)
async def test_bad_bodies_get_422(body: dict[str, object], field: str) -> None:
    sim = Simulator(provider="codefast")
    async with client(sim) as http:
        answer = await http.post("/generate", json=body)
    assert answer.status_code == 422
    (detail,) = answer.json()["detail"]
    assert detail["loc"] == ["body", field]
    assert sim.jobs() == []


async def test_invalid_json_unknown_job_and_paths() -> None:
    sim = Simulator(provider="codefast")
    async with client(sim) as http:
        bad_json = await http.post(
            "/generate", content=b"{nope", headers={"content-type": "application/json"}
        )
        unknown = await http.get("/status/no-such-job")
        no_path = await http.get("/nowhere")
        wrong_method = await http.delete("/generate")
        job_id = (await http.post("/generate", json=TEXT)).json()["job_id"]
        foreign = await http.get(f"/status/{job_id}", headers={"X-API-Key": "someone else"})
        no_file = await http.get(f"/files/{job_id}.mp4")
    assert bad_json.status_code == 422
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Job not found"})
    assert (no_path.status_code, no_path.json()) == (404, {"detail": "Not Found"})
    assert wrong_method.status_code == 405
    assert foreign.status_code == 404  # jobs belong to their key
    assert no_file.status_code == 404  # not finished yet


async def test_failed_job_uses_the_full_form(clock) -> None:
    sim = Simulator(provider="codefast", clock=clock, fail_prompts_containing="forbidden")
    async with client(sim) as http:
        good = (await http.post("/generate", json=TEXT)).json()["job_id"]
        job_id = (await http.post("/generate", json={"prompt": "a forbidden thing"})).json()[
            "job_id"
        ]
        clock.t = 200.0
        failed = (await http.get(f"/status/{job_id}")).json()
        listing = (await http.get("/videos")).json()
    assert set(failed) == FULL_KEYS
    assert failed["status"] == "failed"
    assert failed["error"] == "Content policy violation"
    assert failed["video_url"] == ""
    assert STAMP.match(failed["completed_at"])
    assert [v["job_id"] for v in listing["videos"]] == [good]


async def test_daily_limit_and_reset_day() -> None:
    sim = Simulator(provider="codefast", daily_limit=2)
    async with client(sim) as http:
        remaining = [
            (await http.post("/generate", json=TEXT)).json()["daily_limit_remaining"]
            for _ in range(2)
        ]
        refused = await http.post("/generate", json=TEXT)
        listing = (await http.get("/videos")).json()
        sim.reset_day()
        again = await http.post("/generate", json=TEXT)
    assert remaining == [1, 0]
    assert (refused.status_code, refused.json()) == (429, {"detail": "Daily limit reached"})
    assert (listing["daily_limit"], listing["daily_limit_remaining"]) == (2, 0)
    assert again.status_code == 200
    assert again.json()["daily_limit_remaining"] == 1
    assert sim.counters.submits == 3
    assert sim.counters.rate_limited == 1


async def test_optional_rate_limit_answers_429_with_retry_after(clock) -> None:
    sim = Simulator(provider="codefast", rate_limit=2, time_scale=0.5, clock=clock)
    async with client(sim) as http:
        answers = [await http.get("/") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json() == {"detail": "Too many requests"}
    assert answers[2].headers["Retry-After"] == "30"
