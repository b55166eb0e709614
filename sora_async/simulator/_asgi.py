"""A minimal ASGI toolkit: request and response objects, a path router, send helpers.

Standard library only, so the simulator runs in-process with the SDK's core dependencies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(slots=True)
class Request:
    """An HTTP request with its whole body read."""

    method: str
    path: str
    """The path below the ASGI ``root_path``."""
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    scheme: str
    host: str
    root_path: str = ""

    @property
    def origin(self) -> str:
        """``scheme://host[:port]/root_path``: where absolute URLs back at us start."""
        return f"{self.scheme}://{self.host}{self.root_path}"

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header, or ``""``."""
        return self.headers.get("content-type", "")

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError``)."""
        return json.loads(self.body)


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Read an HTTP request's scope and whole body."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    root_path: str = scope.get("root_path", "") or ""
    path: str = scope.get("path", "/") or "/"
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    host = headers.get("host")
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] in (None, 80, 443) else f"{server[0]}:{server[1]}"
    query_string: bytes = scope.get("query_string", b"")
    query = dict(reversed(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)))
    return Request(
        method=str(scope.get("method", "GET")).upper(),
        path=path,
        query=query,
        headers=headers,
        body=b"".join(chunks),
        scheme=str(scope.get("scheme", "http")),
        host=host,
        root_path=root_path,
    )


@dataclass(slots=True)
class Response:
    """An HTTP response to send; ``job_id`` marks an answer that created a job."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    job_id: str | None = None

    @classmethod
    def json(
        cls, data: Any, status: int = 200, *, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """A JSON answer (compact, UTF-8)."""
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(status, body, "application/json", list(headers or ()))

    @classmethod
    def html(cls, text: str, status: int) -> Response:
        """An HTML page (what a gateway sends instead of JSON)."""
        return cls(status, text.encode(), "text/html; charset=utf-8")

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """Headers for ``http.response.start``, with content type and length."""
        raw = [
            (b"content-type", self.content_type.encode("latin-1")),
            (b"content-length", str(len(self.body)).encode()),
        ]
        raw.extend(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in self.headers
        )
        return raw


async def send_response(send: Send, response: Response, *, head: bool = False) -> None:
    """Send a whole response (headers only for ``HEAD``)."""
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": response.raw_headers(),
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else response.body})


Handler = Callable[["Call"], Response]


@dataclass(frozen=True, slots=True)
class Call:
    """What a handler gets: the request, the path parameters, the caller's key hash."""

    request: Request
    params: dict[str, str]
    key: str


@dataclass(frozen=True, slots=True)
class Route:
    """A route: methods, a compiled path template, a name for counters and faults."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    auth: bool = True


@dataclass(frozen=True, slots=True)
class Match:
    """A router hit; ``route`` is ``None`` when the path exists but not for this method."""

    route: Route | None
    params: dict[str, str]


_PARAM = re.compile(r"\{(\w+)\}")


def _compile(template: str) -> re.Pattern[str]:
    """Turn ``/a/{b}/c`` into a regex with a named group per parameter (one path segment)."""
    parts: list[str] = []
    position = 0
    for hit in _PARAM.finditer(template):
        parts.append(re.escape(template[position : hit.start()]))
        parts.append(f"(?P<{hit.group(1)}>[^/]+)")
        position = hit.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))


class Router:
    """Routes by method and path template (``/tasks/{task_id}``); first match wins."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self,
        methods: str,
        template: str,
        name: str,
        handler: Handler,
        *,
        auth: bool = True,
    ) -> None:
        """Add a route; ``methods`` is a space-separated list, e.g. ``"GET HEAD"``."""
        route = Route(frozenset(methods.split()), _compile(template), name, handler, auth)
        self._routes.append(route)

    def match(self, method: str, path: str) -> Match | None:
        """The route for this request, a method mismatch, or ``None`` (no such path)."""
        found_path = False
        for route in self._routes:
            hit = route.pattern.fullmatch(path)
            if hit is None:
                continue
            if method in route.methods:
                return Match(route, hit.groupdict())
            found_path = True
        return Match(None, {}) if found_path else None
