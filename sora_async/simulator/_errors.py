"""Errors raised inside the simulator's handlers; each protocol renders them in its own format.

Handlers and the engine raise these; the protocol module turns them into the provider's
error body and HTTP status, so no handler repeats a wire format.
"""

from __future__ import annotations

import enum
from typing import Literal


class ConnectionDropped(Exception):
    """The simulator dropped the connection on purpose (a ``drop_after_accept`` fault).

    In-process, :meth:`Simulator.transport` turns it into ``httpx.RemoteProtocolError``.
    """


class Limit(enum.Enum):
    """Which quota a request ran into."""

    RATE = "rate"
    DAILY = "daily"
    CONCURRENT = "concurrent"
    CREDITS = "credits"


class SimError(Exception):
    """Base of the errors a protocol module renders."""


class Unauthorized(SimError):
    """No key, a malformed ``Authorization`` header, or a key the simulator does not accept."""

    def __init__(self, reason: Literal["missing", "malformed", "invalid"]) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(SimError):
    """A bad body or query parameter (``param`` names it when known)."""

    def __init__(self, message: str, *, param: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.value = value


class NotFound(SimError):
    """An unknown job, file or path; ``code`` refines it where a protocol has codes."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class MethodNotAllowed(SimError):
    """The path exists but not with this method."""


class Limited(SimError):
    """A quota is spent; ``retry_after`` (real seconds, already scaled) when one is known."""

    def __init__(self, limit: Limit, *, retry_after: float | None = None) -> None:
        super().__init__(limit.value)
        self.limit = limit
        self.retry_after = retry_after


class ServerFault(SimError):
    """A transient server error (5xx); ``retry_after`` in real seconds when sent."""

    def __init__(self, status: int, *, retry_after: float | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


class EnvelopeFault(SimError):
    """soravideo only: HTTP 200 whose envelope carries an error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
