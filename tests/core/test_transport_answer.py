"""The answer the transport hands on: read whole, decoded, with the key taken out."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from sora_async import APIConnectionError, APITimeoutError
from sora_async._secrets import Secret
from sora_async._transport import Caps, Transport
from sora_async.providers import CodefastProvider

pytestmark = pytest.mark.anyio

KEY = "sk-answer-canary"
BODY = {"job_id": "j1", "status": "queued", "echo": KEY}


def transport_for(handler: httpx.MockTransport) -> Transport:
    provider = CodefastProvider(base_url="https://api.example")
    return Transport(
        http=httpx.AsyncClient(transport=handler),
        provider=provider,
        api_key=Secret(KEY),
        max_connections=2,
        caps=Caps(),
    )


@pytest.mark.parametrize("encoding", [None, "gzip"])
async def test_the_answer_is_a_read_response_of_the_decoded_redacted_body(
    encoding: str | None,
) -> None:
    raw = json.dumps(BODY).encode()
    sent = gzip.compress(raw) if encoding else raw

    def handler(request: httpx.Request) -> httpx.Response:
        headers = [("content-type", "application/json"), ("x-other", "kept")]
        if encoding:
            headers.append(("content-encoding", encoding))
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(sent))

    transport = transport_for(httpx.MockTransport(handler))
    request = CodefastProvider(base_url="https://api.example").status_request("j1")
    answer = await transport.send(request, submit=False)

    response = answer.response
    expected = raw.replace(KEY.encode(), b"***")
    assert response.content == expected
    assert response.read() == expected
    assert [chunk async for chunk in response.aiter_bytes()] == [expected]
    assert response.json() == {**BODY, "echo": "***"} == answer.payload
    assert response.text == expected.decode()
    assert response.is_closed and response.is_stream_consumed
    # The head describes the body as handed on: decoded, so no encoding and its own length.
    assert "content-encoding" not in response.headers
    assert response.headers["content-length"] == str(len(expected))
    assert response.headers["x-other"] == "kept"
    assert response.request is request and response.status_code == 200


async def test_the_key_header_is_set_once_whatever_the_request_held() -> None:
    seen: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get_list("x-api-key"))
        return httpx.Response(200, stream=httpx.ByteStream(b'{"job_id": "j1"}'))

    transport = transport_for(httpx.MockTransport(handler))
    request = CodefastProvider(base_url="https://api.example").status_request("j1")
    request.headers["X-Api-Key"] = "stale"
    await transport.send(request, submit=False)
    assert seen == [[KEY]]


@pytest.mark.parametrize(
    ("failure", "submit", "maybe_submitted"),
    [
        (httpx.ConnectError, True, False),  # never left this machine
        (httpx.ReadError, False, False),  # not a submit: nothing in doubt
        (httpx.ReadError, True, True),  # a submit whose bytes may have left
        (httpx.ReadTimeout, True, True),
    ],
)
async def test_transport_failures_are_typed_and_chain_nothing(
    failure: type[httpx.TransportError], submit: bool, maybe_submitted: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure(f"boom {KEY}", request=request)

    transport = transport_for(httpx.MockTransport(handler))
    request = CodefastProvider(base_url="https://api.example").status_request("j1")
    expected = (
        APITimeoutError if issubclass(failure, httpx.TimeoutException) else APIConnectionError
    )
    with pytest.raises(expected) as raised:
        await transport.send(request, submit=submit)
    error = raised.value
    assert type(error) is expected and error.maybe_submitted is maybe_submitted
    assert error.__cause__ is None and error.__context__ is None
    assert KEY not in str(error) and failure.__name__ in str(error)


async def test_other_failures_go_on_unmapped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise LookupError("not a transport failure")

    transport = transport_for(httpx.MockTransport(handler))
    request = CodefastProvider(base_url="https://api.example").status_request("j1")
    with pytest.raises(LookupError):
        await transport.send(request, submit=False)
