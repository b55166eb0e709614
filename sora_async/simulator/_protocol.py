"""What the three protocol modules share: the base class, key checks, body parsing, URLs.

A protocol module only knows its own paths, field names and error format; the pipeline
(faults, counters, limits, sending) lives in ``_app.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from ._asgi import Handler, Request, Response, Router
from ._engine import Engine, Job, key_hash
from ._errors import BadRequest, SimError, Unauthorized
from ._formats import seconds_header, seconds_value
from ._media import Uploads
from ._settings import SimulatorSettings
from ._types import Provider
from ._validate import json_object


@dataclass(frozen=True, slots=True)
class Context:
    """The state a protocol works on."""

    settings: SimulatorSettings
    engine: Engine
    uploads: Uploads


class ProtocolBase(ABC):
    """One provider's wire protocol: routes, authentication, error rendering, headers."""

    name: ClassVar[Provider]
    prefix: ClassVar[str]
    """The path prefix of the real base URL (``""``, ``"/api/v1"``, ``"/v1"``)."""
    host: ClassVar[str]
    """The made-up host of the in-process base URL."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.engine = context.engine
        self.settings = context.settings

    @classmethod
    def base_url(cls) -> str:
        """The in-process base URL, e.g. ``http://soravideo.sim/api/v1``."""
        return f"http://{cls.host}{cls.prefix}"

    @abstractmethod
    def add_routes(self, router: Router) -> None:
        """Register this protocol's routes (with :meth:`route`)."""

    @abstractmethod
    def identify(self, request: Request) -> str:
        """The caller's key hash, or raise :class:`Unauthorized`."""

    @abstractmethod
    def render(self, error: SimError) -> Response:
        """An error in this provider's own format."""

    def response_headers(self, key: str | None) -> list[tuple[str, str]]:
        """Headers added to every API answer (quota headers); none by default."""
        return []

    # -- helpers for subclasses ----------------------------------------------------------

    def route(self, router: Router, methods: str, path: str, name: str, handler: Handler) -> None:
        """Register ``path`` below this protocol's prefix."""
        router.add(methods, f"{self.prefix}{path}", name, handler)

    def peek(self, request: Request) -> str | None:
        """The caller's key hash if the key is good, without raising."""
        try:
            return self.identify(request)
        except Unauthorized:
            return None

    def accept(self, key: str | None) -> str:
        """Check a presented key; return its hash."""
        if not key:
            raise Unauthorized("missing")
        if not self.engine.key_ok(key):
            raise Unauthorized("invalid")
        return key_hash(key)

    def bearer(self, request: Request) -> str:
        """Check an ``Authorization: Bearer <key>`` header; return the key's hash."""
        header = request.header("authorization")
        if header is None or not header.strip():
            raise Unauthorized("missing")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or " " in token.strip():
            raise Unauthorized("malformed")
        return self.accept(token.strip())

    @staticmethod
    def json_body(request: Request) -> dict[str, Any]:
        """The body as a JSON object, or :class:`BadRequest`."""
        try:
            return json_object(request.json())
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("the request body is not valid JSON") from exc

    @staticmethod
    def file_url(request: Request, name: str) -> str:
        """An absolute URL back at the simulator's unauthenticated file route."""
        return f"{request.origin}/files/{name}"

    def video_url(self, request: Request, job: Job) -> str:
        """Where a finished job's MP4 is served."""
        return self.file_url(request, f"{job.id}.mp4")

    def thumbnail_url(self, request: Request, job: Job) -> str:
        """Where a finished job's thumbnail is served."""
        return self.file_url(request, f"{job.id}.png")

    def wait_value(self, seconds: float) -> int | float:
        """A real wait as a JSON number (integers at real speed)."""
        return seconds_value(seconds, integral=self.engine.integral_times)

    def retry_after(self, seconds: float | None) -> list[tuple[str, str]]:
        """A ``Retry-After`` header for a real wait, or nothing."""
        if seconds is None:
            return []
        return [("Retry-After", seconds_header(seconds, integral=self.engine.integral_times))]


def reason(status: int) -> str:
    """The standard reason phrase of an HTTP status."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
