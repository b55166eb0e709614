"""Redirects: API calls never follow one; downloads follow a few, the key never leaving
the provider's origin. The other origin is a second real server that records what it got."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hostile_server import Received, Reply, serve
from hostile_support import KEY, PROVIDERS, bounded, client_for, finished_job, other_host

from sora_async import APIError, AsyncSoraClient

pytestmark = pytest.mark.anyio

VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 4000
AUTH_NAMES = ("x-api-key", "authorization")


def carries_key(request: Received) -> bool:
    return any(KEY in value for value in request.headers.values())


def redirect_to(url: str, status: int = 302) -> object:
    def handler(reply: Reply) -> None:
        reply.head(status, [("Location", url), ("Content-Length", "0")], reason="Found")

    return handler


def video(reply: Reply) -> None:
    reply.body(200, VIDEO, [("Content-Type", "video/mp4")], reason="OK")


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirected_submit_is_an_error_and_not_resent(provider: str, status: int) -> None:
    with (
        serve(video, host=other_host()) as other,
        serve(redirect_to(f"{other.origin}/steal?token=s3cret", status)) as server,
    ):
        client = client_for(server.origin, provider)
        async with client:
            with bounded(), pytest.raises(APIError) as caught:
                await client.submit("a fox in the snow")
    assert caught.value.status_code == status
    assert other.origin in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert len(server.received) == 1  # not resent
    assert other.received == []  # nothing, the key least of all, went to the other origin


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_redirected_status_call_is_not_followed_even_by_a_following_client(
    provider: str,
) -> None:
    with (
        serve(video, host=other_host()) as other,
        serve(redirect_to(f"{other.origin}/status")) as server,
    ):
        # The user's own client follows redirects: the SDK turns it off per request.
        http = httpx.AsyncClient(follow_redirects=True)
        client = client_for(server.origin, provider, http_client=http)
        async with http, client:
            with bounded(), pytest.raises(APIError) as caught:
                await client.get_job("j1")
    assert caught.value.status_code == 302
    assert other.received == []


async def test_a_redirect_message_shows_no_credentials_or_query() -> None:
    with serve(redirect_to("http://user:pw-123@127.0.0.9:1/x?sig=abc#frag")) as server:
        async with client_for(server.origin) as client:
            with bounded(), pytest.raises(APIError) as caught:
                await client.get_job("j1")
    text = f"{caught.value} {caught.value!r}"
    assert "http://127.0.0.9:1/x" in text
    assert "pw-123" not in text and "sig=abc" not in text and "user" not in text


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_download_follows_a_redirect_without_the_key(provider: str, tmp_path: Path) -> None:
    with (
        serve(video, host=other_host()) as other,
        serve(redirect_to(f"{other.origin}/cdn/v.mp4")) as server,
    ):
        job = finished_job(f"{server.origin}/files/j1.mp4")
        async with client_for(server.origin, provider) as client:
            with bounded():
                path = await client.download(job, tmp_path)
    assert path.read_bytes() == VIDEO
    assert len(other.received) == 1
    assert not carries_key(other.received[0])
    assert not set(AUTH_NAMES) & set(other.received[0].headers)
    # The first hop was on the provider's origin: there the key is expected.
    assert carries_key(server.received[0])


async def test_the_key_never_comes_back_after_a_hop_elsewhere(tmp_path: Path) -> None:
    with serve(video) as server:
        hops = iter([f"{server.origin}/back-home"])

        def bounce(reply: Reply) -> None:
            redirect_to(next(hops))(reply)  # type: ignore[operator]

        with serve(bounce, host=other_host()) as other:
            job = finished_job(f"{other.origin}/start.mp4")
            async with client_for(server.origin) as client:
                with bounded():
                    path = await client.download(job, tmp_path)
    assert path.read_bytes() == VIDEO
    assert not carries_key(other.received[0])
    assert [r.path for r in server.received] == ["/back-home"]
    assert not carries_key(server.received[0])


async def test_a_download_keeps_the_key_on_its_own_origin(tmp_path: Path) -> None:
    def handler(reply: Reply) -> None:
        if reply.request.path == "/files/j1.mp4":
            redirect_to("/files/real.mp4")(reply)  # type: ignore[operator]
        else:
            video(reply)

    with serve(handler) as server:
        job = finished_job(f"{server.origin}/files/j1.mp4")
        async with client_for(server.origin) as client:
            with bounded():
                await client.download(job, tmp_path)
    assert [r.path for r in server.received] == ["/files/j1.mp4", "/files/real.mp4"]
    assert all(carries_key(r) for r in server.received)


async def test_a_redirect_loop_ends_in_a_typed_error(tmp_path: Path) -> None:
    with serve(redirect_to("/again")) as server:
        job = finished_job(f"{server.origin}/files/j1.mp4")
        async with client_for(server.origin) as client:
            with bounded(), pytest.raises(APIError, match="redirected more than 5 times"):
                await client.download(job, tmp_path)
    assert len(server.received) == 6
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("location", ["http://cdn.example.com/v.mp4", "ftp://cdn.example.com/v"])
async def test_a_download_is_not_redirected_down_to_http_or_elsewhere(
    location: str, tmp_path: Path
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.host == "api.example.com":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, content=VIDEO)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = AsyncSoraClient(
        api_key=KEY, base_url="https://api.example.com", http_client=http, max_retries=0
    )
    job = finished_job("https://api.example.com/files/j1.mp4")
    async with http, client:
        with pytest.raises(APIError, match="redirected"):
            await client.download(job, tmp_path)
    assert [r.url.host for r in sent] == ["api.example.com"]
    assert list(tmp_path.iterdir()) == []
