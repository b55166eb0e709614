"""The error tree.

::

    SoraError
     ├── InvalidRequestError          bad input, raised before anything is sent
     ├── APIError                     the server answered with an error
     │    ├── AuthenticationError     401/403, soravideo 1001-1004
     │    ├── NotFoundError           404
     │    ├── BadRequestError         400/422
     │    ├── RateLimitError          429 (``retry_after``), soravideo 2001
     │    │    ├── ConcurrencyLimitError     soravideo 2002
     │    │    └── DailyLimitError           codefast "Daily limit reached", soravideo 2003
     │    ├── InsufficientCreditsError       402, soravideo 3001
     │    └── ServerError             5xx
     ├── APIConnectionError           no usable answer (``maybe_submitted``)
     │    └── APITimeoutError
     ├── ResponseParseError           the answer was not what the protocol promises
     │    └── ResponseTooLargeError   larger than the byte cap (never retried)
     ├── JobFailedError               the job ended ``failed`` (``job``)
     └── WaitTimeoutError             ``wait`` ran out of time (``job``)

Every HTTP status is mapped to its class in one place, :func:`error_for_status`.

An error is something a person reads and a program may store: its message is cut to
:data:`MESSAGE_LIMIT` characters and a server's ``body`` to about :data:`BODY_LIMIT`, so a
50 MB error detail cannot become a 50 MB ``str(exc)``, results file or journal row.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import Job

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConcurrencyLimitError",
    "DailyLimitError",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "JobFailedError",
    "NotFoundError",
    "RateLimitError",
    "ResponseParseError",
    "ResponseTooLargeError",
    "ServerError",
    "SoraError",
    "WaitTimeoutError",
    "bounded_body",
    "error_for_status",
    "shortened",
]

_BODY_EXCERPT = 500
#: The longest message an error keeps (characters).
MESSAGE_LIMIT = 2000
#: About the largest server body an error keeps (characters of its JSON text).
BODY_LIMIT = 16 * 1024


class SoraError(Exception):
    """The base of every error this SDK raises."""

    message: str

    def __init__(self, message: str) -> None:
        message = shortened(message, MESSAGE_LIMIT)
        super().__init__(message)
        self.message = message


class InvalidRequestError(SoraError, ValueError):
    """Bad input, found before any request was sent.

    >>> InvalidRequestError("must be one of '16:9', '9:16'", field="aspect_ratio").field
    'aspect_ratio'
    """

    def __init__(
        self, message: str, *, field: str | None = None, allowed: tuple[Any, ...] = ()
    ) -> None:
        text = f"{field}: {message}" if field else message
        super().__init__(text)
        self.field = field
        self.allowed = allowed


class APIError(SoraError):
    """The server answered with an error.

    ``status_code`` is the HTTP status, ``provider_code`` the provider's own code (soravideo's
    ``2001``, openai's ``"rate_limit_exceeded"``), ``body`` the decoded body (or an excerpt of
    the text when it was not JSON), ``retry_after`` the server's hint in seconds, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        provider_code: int | str | None = None,
        body: object = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.provider_code = provider_code
        self.body = bounded_body(body)
        self.retry_after = retry_after

    def __str__(self) -> str:
        code = f", code {self.provider_code}" if self.provider_code is not None else ""
        return f"{self.message} (HTTP {self.status_code}{code})"


class AuthenticationError(APIError):
    """The API key was refused (missing, invalid, revoked or malformed)."""


class NotFoundError(APIError):
    """The job, task or video does not exist for this key."""


class BadRequestError(APIError):
    """The server refused the parameters."""


class RateLimitError(APIError):
    """Too many requests. ``retry_after`` is the server's hint in seconds, when it gave one."""


class ConcurrencyLimitError(RateLimitError):
    """Too many tasks running at once for this key."""


class DailyLimitError(RateLimitError):
    """The day's quota is spent. ``reset_at`` is when it comes back, when known."""

    reset_at: datetime | None = None


class InsufficientCreditsError(APIError):
    """The account has too few credits for this generation."""


class ServerError(APIError):
    """A 5xx answer: the service failed, usually for a moment."""


class APIConnectionError(SoraError):
    """No usable answer came back (connection refused, reset, or protocol error).

    ``maybe_submitted`` is true when a submission may have reached the server: it was not
    resent, so that the quota is not spent twice.
    """

    def __init__(self, message: str, *, maybe_submitted: bool = False) -> None:
        if maybe_submitted:
            said = " (the submission may have been accepted; it was not resent)"
            message = shortened(message, MESSAGE_LIMIT - len(said)) + said
        super().__init__(message)
        self.maybe_submitted = maybe_submitted


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class ResponseParseError(SoraError):
    """The server's answer did not have the shape the protocol promises."""

    def __init__(self, message: str, *, status_code: int | None = None, body: object = None):
        super().__init__(message)
        self.status_code = status_code
        self.body = bounded_body(body)


class ResponseTooLargeError(ResponseParseError):
    """The answer was larger than ``max_response_bytes`` (or ``max_download_bytes``).

    Not retried: the same server would send the same again.
    """


class _JobError(SoraError):
    def __init__(self, message: str, *, job: Job) -> None:
        super().__init__(message)
        self.job = job


class JobFailedError(_JobError):
    """The job finished with status ``failed``; ``job.error`` says why."""


class WaitTimeoutError(_JobError):
    """``wait`` gave up before the job finished; ``job`` is the last state seen."""


def shortened(text: str, limit: int) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out.

    >>> shortened("x" * 100, 50)
    'xxxxxxxxxxxxxxxxxxxxxxxxx… (75 more characters)'
    """
    if len(text) <= limit:
        return text
    kept = text[: max(limit // 2, limit - 40)]  # room for the note: at most ``limit`` in all
    return f"{kept}… ({len(text) - len(kept)} more characters)"


def bounded_body(body: object) -> object:
    """A server's body as an error keeps it: as it came, or the start of its text when large.

    >>> bounded_body({"detail": "busy"})
    {'detail': 'busy'}
    >>> len(bounded_body({"detail": "x" * 100_000})) < 20_000
    True
    """
    if body is None or isinstance(body, bool | int | float):
        return body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        return shortened(body, BODY_LIMIT)
    try:
        text = json.dumps(body, ensure_ascii=False, default=repr)
    except (TypeError, ValueError, RecursionError):
        return "(a body too deep or too odd to keep)"
    return body if len(text) <= BODY_LIMIT else shortened(text, BODY_LIMIT)


def excerpt(text: str) -> str:
    """The start of a body, for error messages (an HTML error page can be long)."""
    text = " ".join(text.split())
    return text if len(text) <= _BODY_EXCERPT else text[:_BODY_EXCERPT] + "…"


def error_for_status(
    status_code: int,
    message: str,
    *,
    provider_code: int | str | None = None,
    body: object = None,
    retry_after: float | None = None,
    kind: type[APIError] | None = None,
) -> APIError:
    """Build the error for an HTTP status; ``kind`` overrides the class a status implies.

    >>> type(error_for_status(404, "no such job")).__name__
    'NotFoundError'
    """
    cls = kind or _class_for_status(status_code)
    return cls(
        message,
        status_code=status_code,
        provider_code=provider_code,
        body=body,
        retry_after=retry_after,
    )


def _class_for_status(status_code: int) -> type[APIError]:
    if status_code in (401, 403):
        return AuthenticationError
    if status_code == 402:
        return InsufficientCreditsError
    if status_code == 404:
        return NotFoundError
    if status_code == 429:
        return RateLimitError
    if status_code >= 500:
        return ServerError
    if 400 <= status_code < 500:
        return BadRequestError
    return APIError
