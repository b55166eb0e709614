"""The OpenAI-compatible Videos protocol, in-process."""

from __future__ import annotations

import time

import httpx
import pytest

from sora_async.simulator import Simulator
from sora_async.simulator._media import mp4, png
from sora_async.testing import ManualClock, serve_simulator

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


# -- edits, extensions and characters (the official package's later calls) -------------------

CLIP = mp4(seconds=4, width=720, height=1280)
PNG = png()


async def test_edit_and_extend_a_completed_video(clock) -> None:
    sim = Simulator(provider="openai", clock=clock)
    async with client(sim) as http:
        body = {"prompt": "x", "model": "sora-2-2025-10-06", "seconds": "8", "size": "1280x720"}
        source = (await http.post("/videos", json=body)).json()
        early = await http.post(
            "/videos/edits", json={"prompt": "y", "video": {"id": source["id"]}}
        )
        clock.t = 200.0
        # As the official package sends them: a form, the reference as video[id].
        edit = await http.post(
            "/videos/edits", files={"prompt": (None, "at night"), "video[id]": (None, source["id"])}
        )
        extension = await http.post(
            "/videos/extensions",
            json={"prompt": "on", "seconds": "12", "video": {"id": source["id"]}},
        )
        uploaded = await http.post(
            "/videos/edits", data={"prompt": "z"}, files={"video": ("a.mp4", CLIP, "video/mp4")}
        )
        bad = [
            await http.post("/videos/edits", json={"prompt": "y"}),
            await http.post("/videos/edits", json={"prompt": "", "video": {"id": source["id"]}}),
            await http.post("/videos/extensions", json={"prompt": "y", "video": {"id": "v"}}),
            await http.post(
                "/videos/extensions",
                json={"prompt": "y", "seconds": "7", "video": {"id": source["id"]}},
            ),
            await http.post(
                "/videos/edits",
                data={"prompt": "z"},
                files={"video": ("a.mp4", b"no", "video/mp4")},
            ),
        ]
        missing = await http.post("/videos/edits", json={"prompt": "y", "video": {"id": "v_no"}})
    assert assert_error(early, 400)["param"] == "video"
    assert edit.status_code == extension.status_code == uploaded.status_code == 200
    edited, extended = edit.json(), extension.json()
    assert set(edited) == VIDEO_KEYS
    assert (edited["prompt"], edited["model"], edited["seconds"]) == (
        "at night",
        "sora-2-2025-10-06",
        "8",
    )
    assert edited["status"] == "queued"
    assert (extended["seconds"], extended["size"]) == ("20", "1280x720")  # the stitched whole
    assert [assert_error(answer, 400)["param"] for answer in bad] == [
        "video",
        "prompt",
        "seconds",
        "seconds",
        "video",
    ]
    assert assert_error(missing, 404)["code"] == "video_not_found"
    assert sim.counters.submits == 4
    assert sim.counters.requests["edit"] == 7


async def test_characters_are_made_from_a_video_and_kept_per_key() -> None:
    sim = Simulator(provider="openai")
    async with client(sim) as http:
        made = await http.post(
            "/videos/characters", data={"name": "Mossy"}, files={"video": ("m.mp4", CLIP)}
        )
        character = made.json()
        got = await http.get(f"/videos/characters/{character['id']}")
        unknown = await http.get("/videos/characters/char_nope")
        no_video = await http.post(
            "/videos/characters", data={"name": "Mossy"}, files={"clip": ("m.mp4", CLIP)}
        )
        not_video = await http.post(
            "/videos/characters", data={"name": "M"}, files={"video": ("m.mp4", b"<html>")}
        )
    async with client(sim, {"Authorization": "Bearer someone-else"}) as other:
        foreign = await other.get(f"/videos/characters/{character['id']}")
    assert made.status_code == 200
    assert character["id"].startswith("char_")
    assert (character["name"], character["object"]) == ("Mossy", "character")
    assert got.json() == character
    assert assert_error(unknown, 404)["code"] == "character_not_found"
    assert assert_error(foreign, 404)["code"] == "character_not_found"
    assert assert_error(no_video, 400)["param"] == "video"
    assert assert_error(not_video, 400)["param"] == "video"
    assert sim.counters.submits == 0  # a character is not a video job


# -- the official ``openai`` package against a served simulator ---------------------------------

official = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the Sora API's sunset note


@official
def test_the_official_sync_client_speaks_to_the_simulator() -> None:
    openai = pytest.importorskip("openai")
    clock = ManualClock()
    with serve_simulator(provider="openai", clock=clock, time_scale=0.01) as server:
        api = openai.OpenAI(api_key=server.api_key, base_url=server.url, max_retries=0)
        created = api.videos.create(
            prompt="a fox", model="sora-2-2025-12-08", seconds="8", size="1280x720"
        )
        # A reference object goes through extra_body, as below for edits (the package
        # refuses one in input_reference); it travels as input_reference[image_url].
        by_url = api.videos.create(
            prompt="from a still",
            extra_body={"input_reference": {"image_url": "https://e.com/a.png"}},
        )
        with_file = api.videos.create(
            prompt="from a file", input_reference=("a.png", PNG, "image/png")
        )
        assert (created.status, created.model, created.seconds) == (
            "queued",
            "sora-2-2025-12-08",
            "8",
        )
        clock.advance(100)  # 10,000 simulated seconds: everything has finished
        done = api.videos.retrieve(created.id)
        assert (done.status, done.progress) == ("completed", 100)
        assert done.completed_at is not None
        listed = [video.id for video in api.videos.list(limit=1)]  # one a page, every page
        assert listed == [with_file.id, by_url.id, created.id]
        content = api.videos.download_content(created.id)
        assert content.read()[4:8] == b"ftyp"
        sprite = api.videos.download_content(created.id, variant="spritesheet")
        assert sprite.read().startswith(b"\x89PNG")
        remixed = api.videos.remix(created.id, prompt="at night")
        uploaded = api.videos.edit(prompt="sepia", video=("clip.mp4", CLIP, "video/mp4"))
        longer = api.videos.extend(prompt="on", seconds="8", video=("clip.mp4", CLIP, "video/mp4"))
        # The package types video={"id": ...} but refuses it before sending (it wants a
        # file there); through extra_body it sends the reference as the form field video[id].
        with pytest.raises(RuntimeError, match="Expected entry at `video`"):
            api.videos.edit(prompt="at night", video={"id": created.id})
        by_id = {"video": {"id": created.id}}
        edited = api.videos.edit(prompt="at night", video=openai.omit, extra_body=by_id)
        extended = api.videos.extend(
            prompt="it runs on", seconds="8", video=openai.omit, extra_body=by_id
        )
        assert remixed.remixed_from_video_id == created.id
        assert (uploaded.status, longer.seconds) == ("queued", "12")
        assert (edited.status, edited.model, edited.prompt) == ("queued", created.model, "at night")
        assert extended.seconds == "16"
        character = api.videos.create_character(name="Mossy", video=("m.mp4", CLIP, "video/mp4"))
        assert api.videos.get_character(character.id).to_dict() == character.to_dict()
        assert (character.name, character.created_at > 0) == ("Mossy", True)
        assert api.videos.delete(created.id).deleted is True
        with pytest.raises(openai.NotFoundError):
            api.videos.retrieve(created.id)
        with pytest.raises(openai.BadRequestError):
            api.videos.create(prompt="x", model="sora-3")  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError, match="input_reference"):
            api.videos.create(prompt="x", extra_body={"input_reference": {"url": "a.png"}})
    assert server.simulator.counters.submits == 8


@official
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the official package's async client
async def test_the_official_async_client_speaks_to_the_simulator() -> None:
    openai = pytest.importorskip("openai")
    clock = ManualClock()
    with serve_simulator(provider="openai", clock=clock, time_scale=0.01) as server:
        api = openai.AsyncOpenAI(api_key=server.api_key, base_url=server.url, max_retries=0)
        created = await api.videos.create(prompt="a fox", model="sora-2-pro-2025-10-06")
        clock.advance(100)
        done = await api.videos.retrieve(created.id)
        listed = [video.id async for video in api.videos.list(limit=1)]
        edited = await api.videos.edit(prompt="at night", video=("clip.mp4", CLIP))
        extended = await api.videos.extend(
            prompt="on", seconds="4", video=openai.omit, extra_body={"video": {"id": created.id}}
        )
        character = await api.videos.create_character(name="M", video=("m.mp4", CLIP))
        again = await api.videos.get_character(character.id)
        await api.close()
    assert (done.status, done.model) == ("completed", "sora-2-pro-2025-10-06")
    assert listed == [created.id]
    assert (edited.status, extended.seconds) == ("queued", "8")
    assert again.to_dict() == character.to_dict()
