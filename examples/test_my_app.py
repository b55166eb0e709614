"""How to test your own code that uses sora_async: on the simulator, with no key or network.

    pytest examples/test_my_app.py

The first part is "your code"; in a real project it lives in your package. The tests show the
tools of ``sora_async.testing``: a fixture, a context manager with faults and limits, and a
simulator served on a local port for code that needs a URL.
"""

from __future__ import annotations

import pytest

from sora_async import AsyncSoraClient, JobFailedError
from sora_async.testing import (
    serve_simulator,
    simulated_client,
    simulator_of,
    sora_client_fixture,
)

# -- your code ------------------------------------------------------------------------------------


async def storyboard(client: AsyncSoraClient, scenes: list[str]) -> dict[str, str | None]:
    """One video per scene; a scene that could not be made maps to ``None``."""
    result = await client.generate_batch(scenes)
    return {item.request.prompt: item.video_url for item in result.items}


async def hero_video(client: AsyncSoraClient, prompt: str, *, fallback: str) -> str | None:
    """A video for ``prompt``; if the service refuses to make it, one for ``fallback``."""
    try:
        job = await client.generate(prompt)
    except JobFailedError:
        job = await client.generate(fallback)
    return job.video_url


# -- the tests ------------------------------------------------------------------------------------

# A fresh simulated client for each test that asks for ``sora_client``. time_scale=0.002
# makes a 60-second video take 0.12 s.
sora_client = sora_client_fixture(provider="codefast", time_scale=0.002)

SCENES = ["a harbour at dawn", "a storm rolls in", "the boats come home"]


@pytest.mark.anyio
async def test_every_scene_gets_a_video(sora_client: AsyncSoraClient) -> None:
    videos = await storyboard(sora_client, SCENES)
    assert list(videos) == SCENES
    assert all(url and url.endswith(".mp4") for url in videos.values())


@pytest.mark.anyio
@pytest.mark.parametrize(
    "sora_client", [{"provider": "openai"}, {"provider": "soravideo"}], indirect=True
)
async def test_it_works_on_every_provider(sora_client: AsyncSoraClient) -> None:
    videos = await storyboard(sora_client, SCENES[:2])
    assert all(videos.values())


@pytest.mark.anyio
async def test_a_refused_scene_maps_to_none() -> None:
    # Jobs whose prompt contains this text fail, as a content-policy refusal would.
    async with simulated_client(time_scale=0.002, fail_prompts_containing="storm") as client:
        videos = await storyboard(client, SCENES)
    assert videos["a storm rolls in"] is None
    assert videos["a harbour at dawn"]


@pytest.mark.anyio
async def test_the_hero_video_falls_back() -> None:
    async with simulated_client(time_scale=0.002, fail_prompts_containing="dragon") as client:
        url = await hero_video(client, "a dragon over the city", fallback="a city at dusk")
        assert url
        assert simulator_of(client).counters.submits == 2


@pytest.mark.anyio
async def test_flaky_polls_are_retried_through() -> None:
    # One status or list request in four answers 5xx, and the next list request a scripted
    # 502: the client retries them and your code never sees them. (A submit answered with a
    # 500 or 502 is not resent, because the job may exist: try routes={"submit"} to see.)
    faults = {"error_rate": 0.25, "routes": {"status", "list"}}
    async with simulated_client(time_scale=0.002, faults=faults) as client:
        simulator_of(client).inject("5xx", route="list", status=502)
        videos = await storyboard(client, SCENES)
        assert simulator_of(client).counters.responses[502] >= 1
    assert all(videos.values())


@pytest.mark.anyio
async def test_the_daily_quota_running_out() -> None:
    async with simulated_client(time_scale=0.002, daily_limit=2) as client:
        videos = await storyboard(client, SCENES)
    assert list(videos.values()).count(None) == 1  # the third prompt was skipped, not sent


@pytest.mark.anyio
async def test_code_that_needs_a_url() -> None:
    # The simulator on a free 127.0.0.1 port, e.g. for a client your app builds from config.
    with serve_simulator(provider="openai", time_scale=0.002) as server:
        async with AsyncSoraClient(
            provider="openai", base_url=server.url, api_key=server.api_key
        ) as client:
            job = await client.submit("a paper boat")
        assert server.simulator.counters.submits == 1
        assert job.id
