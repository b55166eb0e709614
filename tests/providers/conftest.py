"""Helpers shared by the provider tests: hand-built responses and request bodies."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from email.parser import BytesParser
from typing import Any

import httpx
import pytest

Respond = Callable[..., httpx.Response]
Part = tuple[str | None, str | None, bytes]

JPEG = b"\xff\xd8\xff\xe0 a tiny jpeg"


def _respond(
    request: httpx.Request,
    status: int = 200,
    *,
    json: Any = None,
    content: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    if json is not None:
        return httpx.Response(status, json=json, headers=headers, request=request)
    return httpx.Response(status, content=content, headers=headers, request=request)


@pytest.fixture
def respond() -> Respond:
    """``respond(request, status, json=..., content=..., headers=...)`` -> an httpx.Response."""
    return _respond


def _json_body(request: httpx.Request) -> Any:
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.read())


@pytest.fixture
def json_body() -> Callable[[httpx.Request], Any]:
    """The decoded JSON body of a request (and a check that it says it is JSON)."""
    return _json_body


def _multipart(request: httpx.Request) -> dict[str, Part]:
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.read()
    message = BytesParser().parsebytes(raw)
    parts: dict[str, Part] = {}
    part: Any
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        parts[name] = (part.get_filename(), part.get("content-type"), data)
    return parts


@pytest.fixture
def multipart() -> Callable[[httpx.Request], dict[str, Part]]:
    """A multipart request's parts: name -> (filename, content type, bytes)."""
    return _multipart


@pytest.fixture
def jpeg() -> bytes:
    return JPEG
