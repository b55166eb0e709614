"""Bounded bytes and bounded time: endless bodies, compression bombs and slow drips end in
typed errors, fast, with the client's memory near the cap (counted on the server's side or
with tracemalloc, never by timing)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest
from hostile_server import Reply, gzip_bomb, serve
from hostile_support import JOB_ANSWERS, PROVIDERS, bounded, client_for, finished_job

from sora_async import (
    APIConnectionError,
    APITimeoutError,
    Job,
    ResponseParseError,
)
from sora_async._errors import ResponseTooLargeError

pytestmark = pytest.mark.anyio

CAP = 256 * 1024
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 400
# Loopback socket buffers on both sides: what a server may hand to the kernel beyond what
# the client read before it hung up.
SOCKET_SLACK = 16 * 1024 * 1024


def endless(reply: Reply) -> None:
    reply.head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
    reply.chunk(b'{"job_id": "j1", "padding": "')
    while True:
        reply.chunk(b"x" * 65536)


def drip(reply: Reply) -> None:
    reply.head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
    while True:
        reply.chunk(b" ")
        reply.pause(0.05)


def drip_the_head(reply: Reply) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 10_000:
        reply.send(bytes([byte]))
        reply.pause(0.05)


def completed(origin: str) -> Job:
    return finished_job(f"{origin}/files/j1.mp4")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_endless_answer_stops_at_the_cap(provider: str) -> None:
    with serve(endless) as server:
        async with client_for(server.origin, provider, max_response_bytes=CAP) as client:
            with bounded(), pytest.raises(ResponseTooLargeError, match="max_response_bytes"):
                await client.get_job("j1")
    assert server.bytes_sent < CAP + SOCKET_SLACK


async def test_an_oversized_answer_is_not_retried() -> None:
    with serve(endless) as server:
        async with client_for(server.origin, max_response_bytes=CAP, max_retries=3) as client:
            with bounded(), pytest.raises(ResponseTooLargeError):
                await client.get_job("j1")
    assert len(server.received) == 1


async def test_an_endless_answer_to_a_submit_says_it_may_have_been_taken() -> None:
    with serve(endless) as server:
        async with client_for(server.origin, max_response_bytes=CAP, max_retries=3) as client:
            with bounded(), pytest.raises(APIConnectionError) as caught:
                await client.submit("a fox")
    assert caught.value.maybe_submitted
    assert len(server.received) == 1


async def test_a_declared_size_over_the_cap_is_refused_before_reading() -> None:
    def huge(reply: Reply) -> None:
        reply.head(200, [("Content-Type", "application/json"), ("Content-Length", str(1 << 34))])
        while True:
            reply.send(b"x" * 65536)

    with serve(huge) as server:
        async with client_for(server.origin, max_response_bytes=CAP) as client:
            with bounded(), pytest.raises(ResponseTooLargeError):
                await client.get_job("j1")
    assert server.bytes_sent < SOCKET_SLACK


@pytest.mark.parametrize("layers", [1, 2])
async def test_a_gzip_bomb_is_not_inflated(layers: int) -> None:
    bomb = gzip_bomb(64 << 20, layers=layers)
    assert len(bomb) < 1 << 20

    def handler(reply: Reply) -> None:
        coding = ", ".join(["gzip"] * layers)
        reply.body(200, bomb, [("Content-Type", "application/json"), ("Content-Encoding", coding)])

    with serve(handler) as server:
        async with client_for(server.origin, max_response_bytes=1 << 20) as client:
            tracemalloc.start()
            try:
                with bounded(), pytest.raises(ResponseTooLargeError):
                    await client.get_job("j1")
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    assert peak < 16 << 20  # the whole bomb would be 64 MiB at the least


async def test_an_encoding_nobody_asked_for_is_a_typed_error() -> None:
    def handler(reply: Reply) -> None:
        reply.body(200, b"\x1b\x00\x00", [("Content-Encoding", "br")])

    with serve(handler) as server:
        async with client_for(server.origin) as client:
            with bounded(), pytest.raises(ResponseParseError, match="'br'"):
                await client.get_job("j1")


async def test_a_corrupt_gzip_answer_is_a_typed_error() -> None:
    def handler(reply: Reply) -> None:
        reply.body(200, b"\x1f\x8b\x08\x00garbage-not-deflate", [("Content-Encoding", "gzip")])

    with serve(handler) as server:
        async with client_for(server.origin) as client:
            with bounded(), pytest.raises(ResponseParseError):
                await client.get_job("j1")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_gzipped_answer_is_read(provider: str) -> None:
    content = gzip.compress(json.dumps(JOB_ANSWERS[provider]).encode())

    def handler(reply: Reply) -> None:
        headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
        reply.body(200, content, headers)

    with serve(handler) as server:
        async with client_for(server.origin, provider) as client:
            with bounded():
                job = await client.get_job("j1")
    assert job.id == "j1"


@pytest.mark.parametrize("handler", [drip, drip_the_head])
async def test_a_drip_ends_at_the_deadline(handler: object) -> None:
    with serve(handler) as server:  # type: ignore[arg-type]
        async with client_for(server.origin, timeout=0.25) as client:
            with bounded(), pytest.raises(APITimeoutError, match=r"within 0\.25 s"):
                await client.get_job("j1")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_dripped_submit_may_have_been_taken_and_is_not_resent(provider: str) -> None:
    with serve(drip) as server:
        async with client_for(server.origin, provider, timeout=0.5, max_retries=3) as client:
            with bounded(), pytest.raises(APITimeoutError) as caught:
                await client.submit("a fox")
    assert caught.value.maybe_submitted
    assert len(server.received) == 1


async def test_deeply_nested_json_is_a_typed_error() -> None:
    def handler(reply: Reply) -> None:
        reply.body(200, b"[" * 100_000 + b"]" * 100_000, [("Content-Type", "application/json")])

    with serve(handler) as server:
        async with client_for(server.origin) as client:
            with bounded(), pytest.raises(ResponseParseError):
                await client.get_job("j1")


# -- downloads ------------------------------------------------------------------------------


async def test_an_endless_download_stops_at_its_cap_and_leaves_nothing(tmp_path: Path) -> None:
    def handler(reply: Reply) -> None:
        reply.head(200, [("Content-Type", "video/mp4"), ("Transfer-Encoding", "chunked")])
        while True:
            reply.chunk(b"v" * 65536)

    with serve(handler) as server:
        async with client_for(server.origin, max_download_bytes=CAP) as client:
            with bounded(), pytest.raises(ResponseTooLargeError, match="max_download_bytes"):
                await client.download(completed(server.origin), tmp_path)
    assert server.bytes_sent < CAP + SOCKET_SLACK
    assert list(tmp_path.iterdir()) == []


async def test_a_dripping_download_is_cut_off_and_leaves_nothing(tmp_path: Path) -> None:
    def handler(reply: Reply) -> None:
        reply.head(200, [("Content-Type", "video/mp4"), ("Content-Length", "100000")])
        while True:
            reply.send(b"v")
            reply.pause(0.05)

    with serve(handler) as server:
        async with client_for(server.origin, timeout=0.25) as client:
            with bounded(), pytest.raises(APITimeoutError, match="too slow"):
                await client.download(completed(server.origin), tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_a_download_past_its_total_time_is_cut_off(tmp_path: Path) -> None:
    def handler(reply: Reply) -> None:
        reply.head(200, [("Content-Type", "video/mp4"), ("Transfer-Encoding", "chunked")])
        while True:  # fast enough for the pace rule, but it never ends
            reply.chunk(b"v" * 65536)
            reply.pause(0.01)

    with serve(handler) as server:
        # The whole download's limit ends before the first pace window could.
        options = {"timeout": 0.5, "download_timeout": 0.25}
        async with client_for(server.origin, **options) as client:
            with bounded(), pytest.raises(APITimeoutError, match=r"longer than 0\.25 s"):
                await client.download(completed(server.origin), tmp_path)
    assert list(tmp_path.iterdir()) == []


async def test_a_gzip_encoded_download_is_saved_whole(tmp_path: Path) -> None:
    compressed = gzip.compress(VIDEO)

    def handler(reply: Reply) -> None:
        reply.body(200, compressed, [("Content-Type", "video/mp4"), ("Content-Encoding", "gzip")])

    with serve(handler) as server:
        async with client_for(server.origin) as client:
            with bounded():
                path = await client.download(completed(server.origin), tmp_path)
    assert path.read_bytes() == VIDEO


async def test_a_download_cut_short_leaves_nothing(tmp_path: Path) -> None:
    def handler(reply: Reply) -> None:
        reply.head(200, [("Content-Type", "video/mp4"), ("Content-Length", "100000")])
        reply.send(b"v" * 5000)  # and hang up

    with serve(handler) as server:
        async with client_for(server.origin) as client:
            with bounded(), pytest.raises(APIConnectionError):
                await client.download(completed(server.origin), tmp_path)
    assert list(tmp_path.iterdir()) == []
