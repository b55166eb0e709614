"""The one send seam: every request of a client goes out, and its answer comes back, here.

The transport adds the credentials, holds the connection semaphore, sends, reads the answer
and maps httpx's failures onto the :class:`SoraError` tree in one place. What the answer
means (quota, pauses, jobs) is the client's business: :meth:`Transport.send` hands back an
:class:`Answer`, a payload or the typed error the answer carries, and raises only what it
refuses itself (a redirect, an answer too large or too slow, no connection).

Redirects: an API call never follows one (a redirected submit or status call would carry
the key and the prompt elsewhere); the 3xx is an :class:`APIError` naming where it
pointed. A download follows a few hops itself, with the key only while the URL stays on the
provider's origin, and never from https down to http.

Caps: every answer is read in bounded bytes (decoded bytes counted, so a gzip bomb stops
early) and every request in bounded time (httpx's timeouts are per read: a server dripping
a byte a second would never trip them). See :class:`Caps`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar, cast

import anyio
import httpx

from ._bodies import BodyReader
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ResponseParseError,
    error_for_status,
    shortened,
)
from ._metrics import Recorder, RequestKind
from ._secrets import Secret, guard_logs, redact, shown_url
from .providers import Provider

__all__ = ["Answer", "Caps", "Transport"]

logger = logging.getLogger("sora_async")

_T = TypeVar("_T")
#: What an answer's head says about its body as sent; the body handed on is decoded.
_BODY_HEADERS = frozenset((b"content-encoding", b"content-length", b"transfer-encoding"))

#: Redirect hops a download follows (a CDN usually needs one).
MAX_DOWNLOAD_HOPS = 5
#: The byte cap of one API answer, decoded (``max_response_bytes``).
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: The byte cap of one download (``max_download_bytes``).
DEFAULT_MAX_DOWNLOAD_BYTES = 4 * 1024**3
#: Seconds one download may take in all (``download_timeout``).
DEFAULT_DOWNLOAD_TIMEOUT = 1800.0
#: The slowest pace (bytes a second) a download, or a request body, is waited for.
MIN_RATE = 32 * 1024


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


@dataclass(frozen=True, kw_only=True)
class Caps:
    """How far one answer may go, in bytes and seconds.

    ``timeout`` is the total time of one API call (connect, send, wait, read), stretched
    for a large request body at :data:`MIN_RATE`. A download must bring
    ``MIN_RATE * timeout`` bytes in every ``timeout`` seconds, and end within
    ``download_timeout``.
    """

    timeout: float = 30.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT

    def deadline(self, request: httpx.Request) -> float:
        body = request.headers.get("content-length", "")
        return self.timeout + (int(body) / MIN_RATE if body.isdigit() else 0.0)


class Transport:
    """Send requests for one client: credentials, redirects, caps and error mapping."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        provider: Provider,
        api_key: Secret,
        max_connections: int,
        caps: Caps,
        recorder: Recorder | None = None,
    ) -> None:
        self._recorder = recorder or Recorder(provider.name, "")
        self._http = http
        self._provider = provider
        self._key = api_key
        self._caps = caps
        # Never more requests in flight than the pool has connections: no PoolTimeout.
        # fast_acquire: a free connection is taken without a trip through the event loop
        # (the request itself yields soon enough); that trip was a tenth of a poll's CPU.
        self._connections = anyio.Semaphore(max_connections, fast_acquire=True)
        self.requests_sent = 0
        guard_logs(api_key)

    async def send(
        self,
        request: httpx.Request,
        *,
        submit: bool,
        on_wire: Callable[[], None] | None = None,
    ) -> Answer:
        """Send one API call and read its answer, within the byte cap and the deadline.

        For a submit, ``on_wire`` is called once, at the last moment before the request's
        first byte may leave (see :class:`_Wire`); a submit that fails before that moment
        is not in doubt (``maybe_submitted`` false), whatever failed.
        """
        with self._recorder.request(_kind(request, submit=submit), request.method) as call:
            answer = await self._send_call(request, submit=submit, on_wire=on_wire)
            call.answered(answer)
            return answer

    async def _send_call(
        self,
        request: httpx.Request,
        *,
        submit: bool,
        on_wire: Callable[[], None] | None,
    ) -> Answer:
        self._authorize(request)
        what = f"{request.method} {request.url.path}"
        deadline = self._caps.deadline(request)
        wire = _Wire(on_wire, traced=self._traced(request)) if submit else None
        async with self._connections:
            with (
                anyio.move_on_after(deadline) as scope,
                self._transport_errors(what, wire=wire) as failure,
            ):
                self.requests_sent += 1
                if wire is not None:
                    wire.attach(request)
                response = await self._send(request)
                try:
                    logger.debug("%s -> %s", what, response.status_code)
                    if 300 <= response.status_code < 400:
                        raise _redirect_refused(request, response)
                    content = await self._read(response, what)
                finally:
                    await response.aclose()
        failure.raise_it()
        if scope.cancelled_caught:
            raise APITimeoutError(
                f"{what} got no whole answer within {deadline:g} s (timeout)",
                maybe_submitted=wire is not None and wire.started,
            )
        return self._answer(response, content)

    def _authorize(self, request: httpx.Request) -> None:
        # Header by header: Headers.update would build a Headers of them first, which cost
        # five times as much.
        for name, value in self._provider.auth_headers(self._key.reveal()).items():
            request.headers[name] = value

    def _traced(self, request: httpx.Request) -> bool:
        """Whether httpcore sends this request (its trace tells when the bytes leave)."""
        # A mounted or custom transport (ASGI in tests, a user's own) reports no events.
        transport = self._http._transport_for_url(request.url)
        return isinstance(transport, httpx.AsyncHTTPTransport)

    async def download(
        self, request: httpx.Request, write: Callable[[bytes], Awaitable[object]]
    ) -> int:
        """Stream a download into ``write``; returns the (decoded) bytes written.

        It follows redirects (see :meth:`_follow`), stops past ``max_download_bytes``,
        and is cut off when it brings less than ``MIN_RATE * timeout`` bytes in any
        ``timeout`` seconds, or runs past ``download_timeout``.
        """
        with self._recorder.request("download", request.method):
            return await self._download(request, write)

    async def _download(
        self, request: httpx.Request, write: Callable[[bytes], Awaitable[object]]
    ) -> int:
        caps = self._caps
        window, floor = caps.timeout, int(MIN_RATE * caps.timeout)
        shown = shown_url(str(request.url))
        what = f"the download of {shown}"
        async with self._connections:
            with (
                anyio.move_on_after(caps.download_timeout) as whole,
                anyio.CancelScope(deadline=anyio.current_time() + window) as pace,
                self._transport_errors(what, wire=None) as failure,
            ):
                response = await self._follow(request)
                try:
                    if response.is_error:
                        answer = self._answer(response, await self._read(response, what))
                        assert answer.error is not None
                        raise answer.error
                    body = BodyReader(
                        response,
                        limit=caps.max_download_bytes,
                        what=what,
                        setting="max_download_bytes",
                    )
                    progress = 0
                    async for chunk in body.chunks():
                        await write(chunk)
                        if body.received - progress >= floor:
                            progress = body.received
                            pace.deadline = anyio.current_time() + window
                finally:
                    await response.aclose()
                if body.declared is not None and body.received != body.declared:
                    raise APIConnectionError(
                        f"{what} ended early: {body.received} of {body.declared} bytes"
                    )
        failure.raise_it()
        if whole.cancelled_caught:
            raise APITimeoutError(f"{what} took longer than {caps.download_timeout:g} s")
        if pace.cancelled_caught:
            raise APITimeoutError(
                f"{what} brought less than {floor} bytes in {window:g} s: too slow, stopped"
            )
        return body.size

    async def _read(self, response: httpx.Response, what: str) -> bytes:
        limit = self._caps.max_response_bytes
        reader = BodyReader(response, limit=limit, what=what, setting="max_response_bytes")
        return await reader.read()

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send, redirects off, and take the key out of the answer's head as it arrives."""
        # Per request, so that a user's client with follow_redirects=True cannot turn
        # following back on.
        response = await self._http.send(request, stream=True, follow_redirects=False)
        raw = response.headers.raw
        spellings = self._key.byte_spellings
        if any(spelling in value for _, value in raw for spelling in spellings):
            # Rebuilt only when needed: building headers is a tenth of a poll's CPU.
            response.headers = httpx.Headers(
                [(name, redact(value, self._key)) for name, value in raw]
            )
        reason = response.extensions.get("reason_phrase")
        if isinstance(reason, bytes):
            response.extensions["reason_phrase"] = redact(reason, self._key)
        return response

    def _answer(self, streamed: httpx.Response, content: bytes) -> Answer:
        """The provider's reading of a whole answer, with the key taken out of it."""
        response = _whole(streamed, redact(content, self._key))
        try:
            payload = self._provider.unwrap(response)
        except (APIError, ResponseParseError) as error:
            return Answer(response, error=self._escaped(error, response))
        except Exception as exc:  # whatever a hostile answer trips in a provider, it is typed
            what = f"{response.request.method} {response.request.url.path}"
            unreadable = ResponseParseError(
                f"{what}: the answer could not be read ({type(exc).__name__})",
                status_code=response.status_code,
            )
            return Answer(response, error=unreadable)
        return Answer(response, payload=self._escaped(payload, response))

    def _escaped(self, value: _T, response: httpx.Response) -> _T:
        r"""``value`` without the key a JSON escape hid from :meth:`_answer` (``\u0073k-…``)."""
        if b"\\" not in response.content:
            return value  # no escape in the answer: the bytes were redacted already
        if isinstance(value, APIError | ResponseParseError):
            value.message = redact(value.message, self._key)
            value.args = (value.message,)
            value.body = self._escaped(value.body, response)
            return value
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            return value
        cleaned = redact(text, self._key)
        return value if cleaned == text else cast(_T, json.loads(cleaned))

    def _transport_errors(self, what: str, *, wire: _Wire | None) -> _Failure:
        """Map httpx's transport errors onto ours, in one place (``with``; see :class:`_Failure`).

        The mapped error is held, not raised here: raised later, outside any ``except``, it
        carries no chained httpx exception, whose ``request`` would show the key's header.
        """
        return _Failure(self, what, wire)

    def _connection_error(
        self, exc: httpx.TransportError, what: str, *, maybe_submitted: bool
    ) -> APIConnectionError:
        kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        # h11's text may quote what the server sent: the key, or megabytes of it.
        reason = shortened(redact(str(exc), self._key), 300)
        return kind(
            f"{what} failed: {type(exc).__name__}: {reason}", maybe_submitted=maybe_submitted
        )

    async def _follow(self, request: httpx.Request) -> httpx.Response:
        """Send a download, following its redirects; the key goes to the provider's origin only.

        Once a hop has left that origin the key is not sent again, even to a hop back: the
        way back was chosen by a server that must not steer where the key goes.
        """
        trusted = True
        for hop in range(MAX_DOWNLOAD_HOPS + 1):
            trusted = trusted and self._provider.content_needs_auth(request)
            if trusted:
                self._authorize(request)
            self.requests_sent += 1
            response = await self._send(request)
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


def _whole(streamed: httpx.Response, content: bytes) -> httpx.Response:
    """``streamed`` as a read response whose body is ``content`` (decoded, redacted)."""
    # The body is decoded already: httpx must not try to decode it again, and its length
    # is the decoded one.
    headers = [(k, v) for k, v in streamed.headers.raw if k.lower() not in _BODY_HEADERS]
    headers.append((b"content-length", str(len(content)).encode()))
    response = httpx.Response(
        streamed.status_code,
        headers=headers,
        stream=httpx.ByteStream(content),
        request=streamed.request,
        extensions=streamed.extensions,
    )
    # What response.read() would leave, without the trip through httpx's decoders and
    # chunkers that made most of the cost of this copy: the body is here, the stream done.
    response._content = content
    response.is_stream_consumed = response.is_closed = True
    return response


def _kind(request: httpx.Request, *, submit: bool) -> RequestKind:
    """What a call is, for the metrics: a submit, a read (GET), or another write."""
    if submit:
        return "submit"
    return "read" if request.method in ("GET", "HEAD") else "write"


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


class _Wire:
    """When a submit's bytes may have left: the moment a submit becomes "in doubt".

    Through httpcore, its per-request trace reports ``http11.send_request_headers.started``
    (or ``http2.``): after the pool gave a connection, just before the first byte is
    written. Through any other transport (ASGI in tests, a user's own), nothing reports
    that moment, so it is taken to be just before the request is handed over: the safe side.
    """

    def __init__(self, on_wire: Callable[[], None] | None, *, traced: bool) -> None:
        self._on_wire = on_wire
        self._traced = traced
        self.started = False

    def attach(self, request: httpx.Request) -> None:
        if not self._traced:
            self.begin()
            return
        earlier = request.extensions.get("trace")

        async def trace(event: str, info: dict[str, Any]) -> None:
            if event.endswith(".send_request_headers.started"):
                self.begin()
            if earlier is not None:
                await earlier(event, info)

        request.extensions = {**request.extensions, "trace": trace}

    def begin(self) -> None:
        if not self.started:
            self.started = True
            if self._on_wire is not None:
                self._on_wire()


class _Failure:
    """An httpx failure, mapped, waiting to be raised where nothing chains to it.

    Entered around every request: a class, as a generator context manager cost more.
    """

    def __init__(self, transport: Transport, what: str, wire: _Wire | None) -> None:
        self._transport = transport
        self._what = what
        self._wire = wire
        self.error: APIConnectionError | None = None

    def __enter__(self) -> _Failure:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if exc is None:
            return False
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            sent = False  # the request never left this machine
        elif isinstance(exc, httpx.TransportError):
            sent = self._wire is not None and self._wire.started
        else:
            return False  # not ours to map: it goes on
        self.error = self._transport._connection_error(exc, self._what, maybe_submitted=sent)
        return True

    def raise_it(self) -> None:
        if self.error is not None:
            raise self.error
