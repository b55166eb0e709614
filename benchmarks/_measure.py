"""Instruments that run inside one measured client process: CPU, peak RSS, TCP connections.

Each measured client (the SDK or the baseline) runs in a process of its own, so everything
here describes that client alone, never the simulator or the orchestrator.

Connections are counted exactly, by wrapping httpcore's asyncio network backend (the one
httpx uses under asyncio): every ``connect_tcp`` is one socket opened, and every ``aclose`` of
the stream it returned is one socket closed. The orchestrator also samples the process's
sockets from outside with psutil, as an independent check (see ``_server.SocketSampler``).
"""

from __future__ import annotations

import resource
import typing
from dataclasses import dataclass

import httpcore

__all__ = ["ConnectionStats", "count_connections", "cpu_seconds", "peak_rss_mb"]


@dataclass
class ConnectionStats:
    """TCP connections this process has opened, and the most it held open at once."""

    opened: int = 0
    open_now: int = 0
    peak_open: int = 0

    def connected(self) -> None:
        self.opened += 1
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)

    def closed(self) -> None:
        self.open_now -= 1


class _CountedStream(httpcore.AsyncNetworkStream):
    """Delegates to the real stream; tells the stats once when it closes."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, stats: ConnectionStats) -> None:
        self._stream = stream
        self._stats = stats
        self._closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._stats.closed()
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


def count_connections() -> ConnectionStats:
    """Start counting the TCP connections httpx opens in this process (call it once)."""
    stats = ConnectionStats()
    original = httpcore.AnyIOBackend.connect_tcp

    async def connect_tcp(
        self: httpcore.AnyIOBackend, *args: typing.Any, **kwargs: typing.Any
    ) -> httpcore.AsyncNetworkStream:
        stream = await original(self, *args, **kwargs)
        stats.connected()
        return _CountedStream(stream, stats)

    # A benchmark-only patch: the SDK and the baseline are measured the same way, untouched.
    httpcore.AnyIOBackend.connect_tcp = connect_tcp  # type: ignore[method-assign]
    return stats


def cpu_seconds() -> float:
    """User + system CPU seconds this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
