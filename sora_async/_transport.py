"""The one send seam: every request of a client goes out, and its answer comes back, here.

The transport adds the credentials, holds the connection semaphore, sends, reads the answer
and maps httpx's failures onto the :class:`SoraError` tree in one place. What the answer
means (quota, pauses, jobs) is the client's business: :meth:`Transport.send` hands back an
:class:`Answer` and never raises for an error the server sent.

Redirects: an API call never follows one (a redirected submit or status call would carry
the key and the prompt elsewhere); the 3xx is an :class:`APIError` naming where it
pointed. A download follows a few hops itself, with the key only while the URL stays on the
provider's origin, and never from https down to http.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ResponseParseError,
    error_for_status,
)
from ._secrets import Secret, shown_url
from .providers import Provider

__all__ = ["Answer", "Transport"]

logger = logging.getLogger("sora_async")

#: Redirect hops a download follows (a CDN usually needs one).
MAX_DOWNLOAD_HOPS = 5


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
                # Per request, so that a user's client with follow_redirects=True cannot
                # turn it back on.
                response = await self.http.send(request, follow_redirects=False)
        logger.debug("%s %s -> %s", request.method, request.url.path, response.status_code)
        if 300 <= response.status_code < 400:
            raise _redirect_refused(request, response)
        try:
            payload = self._provider.unwrap(response)
        except (APIError, ResponseParseError) as error:
            return Answer(response, error=error)
        return Answer(response, payload=payload)

    @asynccontextmanager
    async def stream(self, request: httpx.Request) -> AsyncIterator[httpx.Response]:
        """Send a download; yields the response with its body unread (an error is raised)."""
        async with self._connections:
            with _transport_errors(request, submit=False):
                response = await self._follow(request)
                try:
                    if response.is_error:
                        await response.aread()
                        self._provider.unwrap(response)
                    yield response
                finally:
                    await response.aclose()

    async def _follow(self, request: httpx.Request) -> httpx.Response:
        """Send a download, following its redirects; the key goes to the provider's origin only.

        Once a hop has left that origin the key is not sent again, even to a hop back: the
        way back was chosen by a server that must not steer where the key goes.
        """
        trusted = True
        for hop in range(MAX_DOWNLOAD_HOPS + 1):
            trusted = trusted and self._provider.content_needs_auth(request)
            if trusted:
                request.headers.update(self._provider.auth_headers(self._key.reveal()))
            self.requests_sent += 1
            response = await self.http.send(request, stream=True, follow_redirects=False)
            if not 300 <= response.status_code < 400:
                return response
            await response.aclose()
            if hop == MAX_DOWNLOAD_HOPS:
                break
            # A new request for each hop: nothing of the last one (the key least of all)
            # is carried over unless the provider's origin asks for it again.
            request = httpx.Request("GET", _next_hop(request, response))
        raise error_for_status(
            response.status_code,
            f"the download of {shown_url(str(request.url))} was redirected more than "
            f"{MAX_DOWNLOAD_HOPS} times",
        )


def _next_hop(request: httpx.Request, response: httpx.Response) -> httpx.URL:
    """Where a download's redirect points, if it may be followed."""
    location = response.headers.get("location")
    url = None
    if location:
        try:
            url = request.url.join(location)
        except httpx.InvalidURL:
            url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise error_for_status(
            response.status_code,
            f"the download of {shown_url(str(request.url))} was redirected to "
            f"{'nowhere' if url is None else shown_url(str(url))}: not an http(s) URL",
        )
    if request.url.scheme == "https" and url.scheme == "http":
        raise error_for_status(
            response.status_code,
            f"the download of {shown_url(str(request.url))} was redirected from https to "
            f"plain http ({shown_url(str(url))}): refused",
        )
    return url


def _redirect_refused(request: httpx.Request, response: httpx.Response) -> APIError:
    location = response.headers.get("location")
    try:
        target = shown_url(str(request.url.join(location))) if location else "nowhere"
    except httpx.InvalidURL:
        target = "an invalid URL"
    return error_for_status(
        response.status_code,
        f"{request.method} {request.url.path} was redirected to {target}: API calls do not "
        "follow redirects, so the key and the request go to the configured base URL only "
        "(check base_url)",
    )


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
