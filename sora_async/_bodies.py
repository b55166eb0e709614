"""Reading an answer's body with a byte cap that a compression bomb cannot get around.

httpx decodes ``Content-Encoding`` in one call per network chunk, with no bound: 64 KiB of
gzip can become 64 MiB at once, and ``gzip, gzip`` multiplies that again. Here the raw bytes
are read (``aiter_raw``) and each encoding is undone in steps of at most :data:`STEP` bytes,
so the cap stops the read after at most one step too many, and memory stays near the cap.

Only the encodings a server may use without being asked (identity, gzip, deflate) are
accepted: the SDK never asks for any, so anything else is a :class:`ResponseParseError`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import chain

import httpx

from ._errors import ResponseParseError, ResponseTooLargeError

__all__ = ["STEP", "BodyReader"]

STEP = 1 << 16
_GZIP = ("gzip", "x-gzip")


class _Inflate:
    """One gzip or deflate layer, undone in steps of at most :data:`STEP` bytes."""

    def __init__(self, coding: str) -> None:
        self._deflate = coding not in _GZIP
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else zlib.MAX_WBITS | 16)
        self._started = False

    def feed(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for data in chunks:
            yield from self._steps(data)

    def flush(self) -> Iterator[bytes]:
        yield from self._steps(b"")

    def _steps(self, data: bytes) -> Iterator[bytes]:
        while not self._zlib.eof:
            try:
                out = self._zlib.decompress(data, STEP)
            except zlib.error as exc:
                if self._deflate and not self._started:
                    # "deflate" is sometimes sent raw, without its zlib header.
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._deflate = False
                    continue
                raise ResponseParseError(f"the compressed answer is corrupt ({exc})") from None
            self._started = True
            data = self._zlib.unconsumed_tail
            if out:
                yield out
            if not data and len(out) < STEP:
                return  # all input taken and nothing more buffered


class BodyReader:
    """Read a streamed response's body, decoded, stopping past ``limit`` bytes.

    ``received`` counts the raw bytes (what Content-Length counts), ``size`` the decoded
    ones. ``what`` names the answer in the error (``"GET /status/j1"``).
    """

    def __init__(self, response: httpx.Response, *, limit: int, what: str, setting: str) -> None:
        self._response = response
        self._limit = limit
        self._what = what
        self._setting = setting
        self.received = 0
        self.size = 0
        self.declared = _content_length(response)
        if self.declared is not None and self.declared > limit:
            raise self._too_large()
        codings = response.headers.get_list("content-encoding", split_commas=True)
        self._layers: list[_Inflate] = []
        # Undone in the reverse of the order they were applied.
        for coding in reversed([c.strip().lower() for c in codings]):
            if coding in _GZIP or coding == "deflate":
                self._layers.append(_Inflate(coding))
            elif coding not in ("", "identity"):
                raise ResponseParseError(
                    f"{what}: the answer is in {coding!r} encoding, which was not asked for",
                    status_code=response.status_code,
                )

    async def chunks(self) -> AsyncIterator[bytes]:
        """The decoded body, chunk by chunk; a :class:`ResponseTooLargeError` past the limit."""
        async for raw in self._response.aiter_raw():
            self.received += len(raw)
            if self.received > self._limit:
                raise self._too_large()
            for piece in self._decoded([raw]):
                yield piece
        for piece in self._finished():
            yield piece

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    def _decoded(self, raw: Iterable[bytes]) -> Iterator[bytes]:
        pieces: Iterable[bytes] = raw
        for layer in self._layers:
            pieces = layer.feed(pieces)
        return self._counted(pieces)

    def _finished(self) -> Iterator[bytes]:
        pieces: Iterable[bytes] = ()
        for layer in self._layers:
            pieces = chain(layer.feed(pieces), layer.flush())
        return self._counted(pieces)

    def _counted(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            self.size += len(piece)
            if self.size > self._limit:
                raise self._too_large()
            yield piece

    def _too_large(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"{self._what}: the answer is larger than {self._limit} bytes ({self._setting}); "
            "stopped reading it",
            status_code=self._response.status_code,
        )


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None
