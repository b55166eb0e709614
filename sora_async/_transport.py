"""The one send seam: every request of a client goes out, and its answer comes back, here.

The transport adds the credentials, holds the connection semaphore, sends, reads the answer
and maps httpx's failures onto the :class:`SoraError` tree in one place. What the answer
means (quota, pauses, jobs) is the client's business: :meth:`Transport.send` hands back an
:class:`Answer` and never raises for an error the server sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from ._errors import APIConnectionError, APIError, APITimeoutError, ResponseParseError
from ._secrets import Secret
from .providers import Provider

__all__ = ["Answer", "Transport"]

logger = logging.getLogger("sora_async")


@dataclass(frozen=True)
class Answer:
    """One answer, read: its decoded payload, or the typed error it carries."""

    response: httpx.Response
    payload: Any = None
    error: APIError | ResponseParseError | None = None

    @property
    def body(self) -> Any:
        """What the quota fields are read from: the payload, or an error's body."""
        return self.error.body if isinstance(self.error, APIError) else self.payload


class Transport:
    """Send requests for one client: credentials, the connection limit, error mapping."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        provider: Provider,
        api_key: Secret,
        max_connections: int,
    ) -> None:
        self.http = http
        self._provider = provider
        self._key = api_key
        # Never more requests in flight than the pool has connections: no PoolTimeout.
        self._connections = anyio.Semaphore(max_connections)
        self.requests_sent = 0

    async def send(self, request: httpx.Request, *, submit: bool) -> Answer:
        """Send one API call and read its answer."""
        request.headers.update(self._provider.auth_headers(self._key.reveal()))
        async with self._connections:
            with _transport_errors(request, submit=submit):
                self.requests_sent += 1
                response = await self.http.send(request)
        logger.debug("%s %s -> %s", request.method, request.url.path, response.status_code)
        try:
            payload = self._provider.unwrap(response)
        except (APIError, ResponseParseError) as error:
            return Answer(response, error=error)
        return Answer(response, payload=payload)

    @asynccontextmanager
    async def stream(self, request: httpx.Request) -> AsyncIterator[httpx.Response]:
        """Send a download; yields the response with its body unread (an error is raised)."""
        if self._provider.content_needs_auth(request):
            request.headers.update(self._provider.auth_headers(self._key.reveal()))
        async with self._connections:
            with _transport_errors(request, submit=False):
                self.requests_sent += 1
                response = await self.http.send(request, stream=True)
                try:
                    if response.is_error:
                        await response.aread()
                        self._provider.unwrap(response)
                    yield response
                finally:
                    await response.aclose()


@contextmanager
def _transport_errors(request: httpx.Request, *, submit: bool) -> Iterator[None]:
    """Map httpx's transport errors onto ours, in one place."""
    what = f"{request.method} {request.url.path}"
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        # The request never left this machine.
        raise _connection_error(exc, what, maybe_submitted=False) from exc
    except httpx.TransportError as exc:
        raise _connection_error(exc, what, maybe_submitted=submit) from exc


def _connection_error(
    exc: httpx.TransportError, what: str, *, maybe_submitted: bool
) -> APIConnectionError:
    kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    reason = type(exc).__name__
    return kind(f"{what} failed: {reason}: {exc}", maybe_submitted=maybe_submitted)
