"""The client on the openai protocol: jobs settled from lists lose nothing, and the calls
the official package added (edit, extend, characters)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sora_async import AsyncSoraClient, InvalidRequestError, Job, JobStatus
from sora_async._doubt import listed_job
from sora_async.providers import OpenAIProvider
from sora_async.simulator._media import mp4
from sora_async.testing import simulated_client, simulator_of


@pytest.mark.anyio
async def test_a_waited_job_is_as_whole_as_a_fetched_one() -> None:
    # openai lists whole video objects: a job the scheduler settles from a list keeps its
    # progress, end time and model, as a status request would have them.
    async with simulated_client(provider="openai", time_scale=0.002) as client:
        jobs = [await client.submit(f"a fox, take {i}") for i in range(3)]
        waited = [await client.wait(job) for job in jobs]
        fetched = [await client.get_job(job.id) for job in jobs]
    for done, again in zip(waited, fetched, strict=True):
        assert (done.progress, done.completed_at) == (100.0, again.completed_at)
        assert done.completed_at is not None
        assert done.model == again.model == "sora-2"


@pytest.mark.parametrize(
    "video",
    [
        {"status": "completed", "progress": 100, "completed_at": 1758941600},
        {"status": "in_progress", "progress": 42},
        {"status": "failed", "progress": 100, "error": {"code": "x", "message": "refused"}},
    ],
)
def test_a_listed_video_settles_a_job_as_its_status_answer_would(video: dict[str, Any]) -> None:
    # Whichever request the scheduler chooses, the job it ends with is the same.
    provider = OpenAIProvider()
    answer = {
        "id": "video_1",
        "object": "video",
        "model": "sora-2",
        "created_at": 1758941485,
        "size": "1280x720",
        "seconds": "8",
    } | video
    fetched = provider.parse_job(answer)
    (listed,) = provider.parse_list({"object": "list", "data": [answer]}).videos
    settled = fetched.model_copy(update={"progress": None, "completed_at": None}).updated(
        listed_job(listed)
    )
    shown = {"id", "status", "progress", "video_url", "error", "created_at", "completed_at"}
    assert settled.model_dump(include=shown) == fetched.model_dump(include=shown)


@pytest.mark.anyio
async def test_dated_model_names_are_sent_as_named() -> None:
    async with simulated_client(provider="openai", time_scale=0.002) as client:
        job = await client.submit("a fox", model="sora-2-pro-2025-10-06", size="1792x1024")
        assert job.model == "sora-2-pro-2025-10-06"


@pytest.mark.anyio
async def test_edit_and_extend_start_new_jobs_from_a_finished_one() -> None:
    async with simulated_client(provider="openai", time_scale=0.002) as client:
        source = await client.generate("a fox in the snow", seconds=8)
        edited = await client.edit(source, prompt="the same fox at night")
        extended = await client.extend(source.id, prompt="the fox runs on", seconds=4)
        done = [await client.wait(job) for job in (edited, extended)]
        counters = simulator_of(client).counters
    assert [job.status for job in done] == ["completed", "completed"]
    assert len({source.id, edited.id, extended.id}) == 3
    assert (counters.requests["edit"], counters.requests["extend"]) == (1, 1)
    assert counters.submits == 3  # each spends a generation, like a submit
    jobs = {job.id: job for job in simulator_of(client).jobs()}
    assert jobs[edited.id].prompt == "the same fox at night"


@pytest.mark.anyio
async def test_characters_are_made_from_a_video_file(tmp_path: Path) -> None:
    clip = tmp_path / "mossy.mp4"
    clip.write_bytes(mp4(seconds=4, width=720, height=1280))
    async with simulated_client(provider="openai", time_scale=0.002) as client:
        made = await client.create_character(name="Mossy", video=clip)
        from_bytes = await client.create_character(name="Fern", video=clip.read_bytes())
        again = await client.get_character(made.id)
    assert again == made
    assert (made.name, from_bytes.name) == ("Mossy", "Fern")
    assert made.id.startswith("char_") and made.created_at is not None


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.edit("video_1", prompt="  "), "prompt"),
        (lambda c: c.edit("", prompt="x"), "job"),
        (lambda c: c.extend("video_1", prompt="x", seconds=5), "seconds"),
        (lambda c: c.extend("video_1", prompt="x", seconds="8"), "seconds"),
        (lambda c: c.create_character(name=" ", video=b"\x00\x00\x00\x18ftypisom"), "name"),
        (lambda c: c.create_character(name="M", video=b"<html>"), "video"),
        (lambda c: c.create_character(name="M", video="https://e.com/m.mp4"), "video"),
        (lambda c: c.create_character(name="M", video="/no/such/file.mp4"), "video"),
        (lambda c: c.get_character(""), "character_id"),
    ],
)
@pytest.mark.anyio
async def test_bad_input_is_refused_before_anything_is_sent(
    call: Callable[[AsyncSoraClient], Awaitable[object]], field: str
) -> None:
    async with simulated_client(provider="openai", time_scale=0.002) as client:
        with pytest.raises(InvalidRequestError) as info:
            await call(client)
        assert simulator_of(client).counters.total == 0
    assert info.value.field == field


@pytest.mark.parametrize("provider", ["codefast", "soravideo"])
@pytest.mark.parametrize(
    ("call", "operation"),
    [
        (lambda c: c.edit("j1", prompt="x"), "edit"),
        (lambda c: c.extend("j1", prompt="x", seconds=4), "extend"),
        (lambda c: c.create_character(name="M", video="/no/such/file.mp4"), "create_character"),
        (lambda c: c.get_character("char_1"), "get_character"),
    ],
)
@pytest.mark.anyio
async def test_other_providers_refuse_them_before_sending(
    provider: str, call: Callable[[AsyncSoraClient], Awaitable[object]], operation: str
) -> None:
    async with simulated_client(provider=provider, time_scale=0.002) as client:
        with pytest.raises(InvalidRequestError, match=f"does not support {operation}"):
            await call(client)
        assert simulator_of(client).counters.total == 0


@pytest.mark.anyio
async def test_a_spritesheet_is_named_by_what_it_is(tmp_path: Path) -> None:
    # The simulator's spritesheet is a PNG; it was saved as .jpg.
    async with simulated_client(provider="openai", time_scale=0.002) as client:
        job = await client.generate("a fox")
        sheet = await client.download(job, tmp_path, variant="spritesheet")
        before = simulator_of(client).counters.total
        again = await client.download(job, tmp_path, variant="spritesheet")
        assert simulator_of(client).counters.total == before  # the earlier one is kept
    assert sheet.name == f"{job.id}.spritesheet.png"
    assert sheet.read_bytes().startswith(b"\x89PNG")
    assert again == sheet


@pytest.mark.anyio
async def test_a_jpeg_spritesheet_keeps_its_jpeg_name(tmp_path: Path) -> None:
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64)

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/videos/video_1/content"
        return httpx.Response(
            200, stream=httpx.ByteStream(jpeg), headers={"content-type": "image/jpeg"}
        )

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with AsyncSoraClient(
        provider="openai", base_url="http://127.0.0.1:9/v1", api_key="sk-test", http_client=http
    ) as client:
        job = Job(id="video_1", status=JobStatus.COMPLETED, raw_status="completed")
        sheet = await client.download(job, tmp_path, variant="spritesheet")
        thumb = await client.download(job, tmp_path / "named.png", variant="thumbnail")
    await http.aclose()
    assert sheet.name == "video_1.spritesheet.jpg"
    assert thumb.name == "named.png"  # a name the user chose is never changed
    assert sheet.read_bytes() == thumb.read_bytes() == jpeg
