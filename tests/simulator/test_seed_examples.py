"""The seed documents' own Python examples, run against the simulator.

Each example is kept as the document writes it: the same URLs relative to the base, the
same headers and JSON, the same ``result['code'] != 200`` checks and the same loops. Only
``requests``/``aiohttp`` became httpx, the host became the simulator, and the 3-second
sleeps became 3 seconds times ``TIME_SCALE``: in the asynchronous example a real sleep, in
the synchronous one a move of the simulator's clock (:func:`sleep`), so that what each poll
sees does not depend on how busy the machine is. If these pass, the documented client code
works against the simulator as it would against the real service.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from sora_async.simulator import Simulator
from sora_async.testing import ManualClock

T = TypeVar("T")
TIME_SCALE = 0.005

# Set per test: where the example's code sends its requests, and the simulator's clock.
BASE_URL = ""
SIM: Simulator | None = None
CLOCK: ManualClock | None = None


def sleep(seconds: float) -> None:
    """The synchronous example's ``time.sleep``: the served simulator's clock moves on."""
    assert CLOCK is not None
    CLOCK.advance(seconds * TIME_SCALE)


def bounded(example: Callable[[], T], timeout: float = 30.0) -> T:
    """Run a synchronous example that loops ``while True``, failing instead of hanging."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = example()
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the example did not finish"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def serve(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> Iterator[str]:
    with sim.serve_in_thread() as url:
        monkeypatch.setattr(f"{__name__}.BASE_URL", url)
        yield url


@pytest.fixture
def codefast(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    sim = Simulator(provider="codefast", time_scale=TIME_SCALE)
    for _ in serve(monkeypatch, sim):
        yield sim


# ---------------------------------------------------------------------------------------
# seeds/000 (codefast): the two `requests` examples.


def test_codefast_text_example(codefast: Simulator) -> None:
    response = httpx.post(
        f"{BASE_URL}/generate",
        headers={"X-API-Key": "your_api_key_here"},
        json={
            "prompt": "A beautiful sunset over mountains",
            "aspect_ratio": "16:9",
            "model": "sora-2-landscape",
        },
    )
    data = response.json()

    assert set(data) == {
        "job_id",
        "status",
        "queue_position",
        "total_in_queue",
        "aspect_ratio",
        "model",
        "daily_limit",
        "daily_limit_remaining",
    }
    assert (data["status"], data["queue_position"], data["total_in_queue"]) == ("queued", 1, 1)
    assert (data["aspect_ratio"], data["model"]) == ("16:9", "sora-2-landscape")
    assert (data["daily_limit"], data["daily_limit_remaining"]) == (20, 19)
    assert [job.id for job in codefast.jobs()] == [data["job_id"]]


def test_codefast_image_example(
    codefast: Simulator, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "image.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\xff\xd9")

    # Görseli base64'e çevir
    with open("image.jpg", "rb") as f:
        image_data = base64.b64encode(f.read()).decode()
    image_base64 = f"data:image/jpeg;base64,{image_data}"

    response = httpx.post(
        f"{BASE_URL}/generate",
        headers={"X-API-Key": "your_api_key_here"},
        json={
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": image_base64}},
                        {"type": "text", "text": "Make this image come to life"},
                    ],
                }
            ],
            "aspect_ratio": "16:9",
            "model": "sora-2-landscape",
        },
    )
    data = response.json()

    assert response.status_code == 200
    assert data["status"] == "queued"
    assert data["model"] == "sora-2-landscape"
    assert codefast.jobs()[0].prompt == "Make this image come to life"


# ---------------------------------------------------------------------------------------
# seeds/001 (soravideo): "Python / Basic Example" (requests -> httpx).

API_KEY = os.environ.get("SORA_API_KEY") or "sk_example_key"


def generate_video(prompt: str, aspect_ratio: str = "16:9") -> str:
    """Generate a video from text prompt"""
    response = httpx.post(
        f"{BASE_URL}/sora2/text-to-video",
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
        json={"prompt": prompt, "aspectRatio": aspect_ratio},
    )
    result = response.json()
    if result["code"] != 200:
        raise Exception(result.get("error") or result.get("msg"))
    return result["data"]["task_id"]  # type: ignore[no-any-return]


def get_task(task_id: str) -> dict[str, Any]:
    """Get task status"""
    response = httpx.get(
        f"{BASE_URL}/tasks/{task_id}", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    result = response.json()
    if result["code"] != 200:
        raise Exception(result.get("error") or result.get("msg"))
    return result["data"]  # type: ignore[no-any-return]


def wait_for_completion(task_id: str, poll_interval: int = 3) -> str:
    """Wait for task to complete and return video URL"""
    while True:
        task = get_task(task_id)
        status = task["status"]
        progress = task.get("progress", 0)
        print(f"Status: {status} ({progress}%)")
        if status == "completed":
            return task["video_url"]  # type: ignore[no-any-return]
        if status == "failed":
            raise Exception("Video generation failed")
        sleep(poll_interval)


def basic_example_main() -> str:
    task_id = generate_video("A golden retriever running through a field")
    print(f"Task started: {task_id}")
    video_url = wait_for_completion(task_id)
    print(f"Video ready: {video_url}")
    return video_url


def clocked(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> Simulator:
    """A soravideo simulator on a clock that the synchronous example's :func:`sleep` moves."""
    clock = ManualClock()
    monkeypatch.setattr(f"{__name__}.CLOCK", clock)
    return Simulator(provider="soravideo", time_scale=TIME_SCALE, clock=clock, **settings)


def test_soravideo_basic_example(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    # The published limits (20 requests a rolling minute) hold for this loop as long as a
    # job takes under ~57 s: one submit plus a poll every 3 s. Keep the jobs that short.
    sim = clocked(monkeypatch, service_time=(20.0, 40.0))
    for _ in serve(monkeypatch, sim):
        video_url = bounded(basic_example_main)
        video = httpx.get(video_url)
    out = capsys.readouterr().out
    assert re.search(r"^Task started: task_\w+$", out, re.M)
    assert re.search(r"^Status: processing \(\d+%\)$", out, re.M)
    assert "Status: completed (100%)" in out
    assert out.rstrip().endswith(f"Video ready: {video_url}")
    assert video.content[4:8] == b"ftyp"
    assert sim.counters.rate_limited == 0


def test_soravideo_basic_example_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = clocked(monkeypatch, failure_rate=1.0, service_time=(20.0, 40.0))
    for _ in serve(monkeypatch, sim):
        with pytest.raises(Exception, match="Video generation failed"):
            bounded(basic_example_main)


def test_soravideo_basic_example_reports_api_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulator(provider="soravideo", time_scale=TIME_SCALE, api_key="sk_other")
    for _ in serve(monkeypatch, sim):
        with pytest.raises(Exception, match="Invalid API key"):
            generate_video("A golden retriever running through a field")


# ---------------------------------------------------------------------------------------
# seeds/001 (soravideo): "Async Python with aiohttp" (aiohttp -> httpx.AsyncClient).


class AsyncSoraClient:
    def __init__(self, api_key: str):
        self.api_key = api_key
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    async def text_to_video(self, session: httpx.AsyncClient, prompt: str, **kwargs: Any) -> str:
        response = await session.post(
            f"{BASE_URL}/sora2/text-to-video",
            headers=self.headers,
            json={"prompt": prompt, **kwargs},
        )
        result = response.json()
        if result["code"] != 200:
            raise Exception(result["msg"])
        return result["data"]["task_id"]  # type: ignore[no-any-return]

    async def get_task(self, session: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
        response = await session.get(f"{BASE_URL}/tasks/{task_id}", headers=self.headers)
        result = response.json()
        if result["code"] != 200:
            raise Exception(result["msg"])
        return result["data"]  # type: ignore[no-any-return]

    async def wait_for_completion(self, session: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
        while True:
            task = await self.get_task(session, task_id)
            if task["status"] in ("completed", "failed"):
                return task
            await asyncio.sleep(3 * TIME_SCALE)


async def main() -> None:
    assert SIM is not None
    client = AsyncSoraClient(API_KEY)
    async with httpx.AsyncClient(transport=SIM.transport()) as session:
        # Generate multiple videos concurrently
        prompts = [
            "A cat sleeping in sunlight",
            "Waves crashing on a beach",
            "City lights at night",
        ]

        # Start all tasks
        task_ids = await asyncio.gather(
            *[client.text_to_video(session, prompt) for prompt in prompts]
        )
        print(f"Started {len(task_ids)} tasks")

        # Wait for all to complete
        results = await asyncio.gather(
            *[client.wait_for_completion(session, task_id) for task_id in task_ids]
        )
        for result in results:
            print(f"Video: {result.get('video_url')}")


def in_process(monkeypatch: pytest.MonkeyPatch, sim: Simulator) -> None:
    monkeypatch.setattr(f"{__name__}.SIM", sim)
    monkeypatch.setattr(f"{__name__}.BASE_URL", sim.base_url)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the example uses asyncio.gather
async def test_soravideo_async_example(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    # Three tasks polled every 3 s is 60 requests a minute: more than the published 20
    # (see the next test), so this run allows more. Everything else is the default.
    sim = Simulator(provider="soravideo", time_scale=TIME_SCALE, rate_limit=1000)
    in_process(monkeypatch, sim)
    with anyio.fail_after(30):
        await main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Started 3 tasks"
    assert len(lines) == 4
    task_ids = [job.id for job in sim.jobs()]
    assert lines[1:] == [f"Video: http://soravideo.sim/files/{task_id}.mp4" for task_id in task_ids]
    assert sim.counters.max_active_tasks == 3
    assert sim.counters.submits == 3


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_soravideo_async_example_breaks_the_published_rate_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # API.md: "A client that polls 3 jobs every 3 s (60 requests/min) breaks the limit".
    # The simulator's clock stands still, so its window never rolls over and no job ends:
    # however slowly this machine runs the example's pollers, the 21st request is refused.
    sim = Simulator(provider="soravideo", time_scale=TIME_SCALE, clock=ManualClock())
    in_process(monkeypatch, sim)
    before = asyncio.all_tasks()
    with anyio.fail_after(30), pytest.raises(Exception, match="Rate limit exceeded"):
        await main()
    for _ in range(500):  # gather left the other pollers running: they hit the wall too
        if asyncio.all_tasks() <= before:
            break
        await asyncio.sleep(0.005)
    assert asyncio.all_tasks() <= before
    assert sim.counters.rate_limited >= 1
    assert sim.counters.requests["status"] <= 20
