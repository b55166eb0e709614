"""AsyncSoraClient's calls against the in-process simulator, for every provider."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from core_support import PROVIDERS, simulated, simulated_with_key

from sora_async import (
    AsyncSoraClient,
    InvalidRequestError,
    Job,
    JobFailedError,
    JobStatus,
    NotFoundError,
    WaitTimeoutError,
)

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_submit_get_and_wait(provider: str) -> None:
    async with simulated(provider) as client:
        job = await client.submit("a red fox in snow")
        assert job.id and job.status is JobStatus.QUEUED
        again = await client.get_job(job.id)
        assert again.id == job.id
        done = await client.wait(job, timeout=30)
    assert done.status is JobStatus.COMPLETED
    assert done.video_url and done.video_url.startswith("http")
    assert done.created_at is None or done.created_at.tzinfo is not None


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_generate_reports_every_change(provider: str) -> None:
    seen: list[Job] = []

    async def on_update(job: Job) -> None:
        seen.append(job)

    async with simulated(provider) as client:
        job = await client.generate("a lighthouse at dusk", on_update=on_update)
    assert job.status is JobStatus.COMPLETED
    assert seen and seen[-1].status is JobStatus.COMPLETED
    assert all(a != b for a, b in itertools.pairwise(seen))


async def test_wait_without_async_with_uses_a_private_scheduler() -> None:
    client = simulated("soravideo")
    try:
        job = await client.generate("a paper boat", on_update=lambda job: None)
    finally:
        await client.aclose()
    assert job.status is JobStatus.COMPLETED


async def test_wait_accepts_a_job_id() -> None:
    async with simulated("openai") as client:
        job = await client.submit("a kite")
        done = await client.wait(job.id)
    assert done.id == job.id and done.is_terminal


async def test_wait_timeout_keeps_the_job() -> None:
    async with simulated("codefast", time_scale=1.0) as client:
        job = await client.submit("a slow one")
        with pytest.raises(WaitTimeoutError) as caught:
            await client.wait(job, timeout=0.05)
    assert caught.value.job.id == job.id


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_failed_job_raises_with_its_reason(provider: str) -> None:
    async with simulated(provider, fail_prompts_containing="[fail]") as client:
        with pytest.raises(JobFailedError) as caught:
            await client.generate("this one will [fail]")
    assert caught.value.job.status is JobStatus.FAILED
    assert caught.value.job.error


async def test_unknown_job_is_not_found() -> None:
    async with simulated("codefast") as client:
        with pytest.raises(NotFoundError):
            await client.get_job("no-such-job")


@pytest.mark.parametrize("provider", ["codefast", "openai"])
async def test_list_videos(provider: str) -> None:
    async with simulated(provider) as client:
        jobs = [await client.generate(f"video {i}") for i in range(3)]
        videos = await client.list_videos()
    assert {job.id for job in jobs} <= {video.id for video in videos}


async def test_list_videos_unsupported_says_so() -> None:
    async with simulated("soravideo") as client:
        with pytest.raises(InvalidRequestError, match=r"soravideo.*list_videos"):
            await client.list_videos()
        assert client.simulator is not None
        assert client.simulator.counters.total == 0


async def test_quota_from_bodies_and_headers() -> None:
    async with simulated("codefast", daily_limit=20) as client:
        quota = await client.get_quota()
        assert quota.daily_limit == 20 and quota.daily_remaining == 20
        await client.submit("one")
        assert client.quota.daily_remaining == 19
    async with simulated("soravideo") as client:
        quota = await client.get_quota()
        assert quota.credits is not None
        assert quota.rate_limit == 20 and quota.concurrent_limit == 3


async def test_check_key() -> None:
    async with simulated("soravideo", api_key="sk-right") as client:
        assert await client.check_key()
    async with simulated_with_key("soravideo", accepted="sk-right", sent="sk-wrong") as client:
        assert not await client.check_key()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_image_to_video(provider: str) -> None:
    async with simulated(provider) as client:
        job = await client.generate("make it move", image=PNG)
    assert job.status is JobStatus.COMPLETED


async def test_upload_image_returns_a_url(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    async with simulated("soravideo") as client:
        url = await client.upload_image(image)
    assert url.startswith("http")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_download_is_whole_and_atomic(provider: str, tmp_path: Path) -> None:
    async with simulated(provider) as client:
        job = await client.generate("a beach")
        path = await client.download(job, tmp_path)
        again = await client.download(job, tmp_path)
    assert path == again and path.parent == tmp_path
    assert path.read_bytes()[4:8] == b"ftyp"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


async def test_download_never_escapes_the_folder(tmp_path: Path) -> None:
    async with simulated("codefast") as client:
        job = await client.generate("a river")
        evil = job.model_copy(update={"id": "../../escaped"})
        path = await client.download(evil, tmp_path / "out")
    assert path.parent == tmp_path / "out"
    assert not (tmp_path / "escaped.mp4").exists()


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://x/v.mp4", "http://", "http://[::1", "https://\x00x/"]
)
async def test_download_refuses_what_is_not_an_http_url(url: str, tmp_path: Path) -> None:
    async with simulated("codefast") as client:
        job = await client.generate("a forest")
        bad = job.model_copy(update={"video_url": url})
        with pytest.raises(InvalidRequestError) as caught:
            await client.download(bad, tmp_path)
    assert caught.value.field == "video_url"


async def test_openai_extras(tmp_path: Path) -> None:
    async with simulated("openai") as client:
        job = await client.generate("a city at night")
        thumb = await client.download(job, tmp_path, variant="thumbnail")
        remix = await client.remix(job.id, "the same city at dawn")
        await client.delete_video(job.id)
        with pytest.raises(NotFoundError):
            await client.get_job(job.id)
    assert thumb.stat().st_size > 0 and remix.id != job.id


async def test_closed_client_refuses_reuse() -> None:
    client = simulated("codefast")
    async with client:
        await client.submit("once")
    with pytest.raises(RuntimeError, match="closed"):
        await client.submit("twice")
    with pytest.raises(RuntimeError):
        async with client:
            pass


async def test_generate_many_needs_the_client_open() -> None:
    client = simulated("codefast")
    with pytest.raises(RuntimeError, match="async with"):
        async for _ in client.generate_many(["a"]):
            pass
    await client.aclose()


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_API_KEY", "sk-from-env")
    assert AsyncSoraClient()._api_key.reveal() == "sk-from-env"
    monkeypatch.delenv("SORA_API_KEY")
    with pytest.raises(InvalidRequestError, match="api_key"):
        AsyncSoraClient()


async def test_an_error_in_the_block_is_not_wrapped() -> None:
    with pytest.raises(JobFailedError):
        async with simulated("codefast", fail_prompts_containing="[fail]") as client:
            await client.generate("this will [fail]")


async def test_generate_from_an_uploaded_image(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(PNG)
    async with simulated("soravideo") as client:
        url = await client.upload_image(image)
        job = await client.generate("make it move", image=url)
    assert job.status is JobStatus.COMPLETED
