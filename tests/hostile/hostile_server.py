"""A small raw-socket HTTP/1.1 server that misbehaves on purpose.

Each connection carries one request and gets whatever the test's handler writes: endless
bodies, gzip bombs, slow drips, redirects, echoed keys. The server records every request it
received (headers included) and counts the bytes it managed to hand to the kernel, so a test
can check what reached it and how much the client read before it stopped.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HostileServer", "Received", "Reply", "gzip_bomb", "serve"]

READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class Received:
    """One request as the server saw it (header names lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class ClientGone(Exception):
    """The client closed the connection (or the server is stopping)."""


@dataclass
class Reply:
    """The socket to answer one request on."""

    sock: socket.socket
    server: HostileServer
    request: Received

    def send(self, data: bytes) -> None:
        if self.server.stopping.is_set():
            raise ClientGone
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ClientGone from exc
        self.server.add_sent(len(data))

    def head(
        self,
        status: int,
        headers: Iterable[tuple[str, str]] = (),
        *,
        reason: str = "Whatever",
    ) -> None:
        lines = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def body(
        self,
        status: int,
        content: bytes,
        headers: Iterable[tuple[str, str]] = (),
        *,
        reason: str = "Whatever",
    ) -> None:
        self.head(status, [*headers, ("Content-Length", str(len(content)))], reason=reason)
        self.send(content)

    def json(
        self,
        status: int,
        payload: Any,
        headers: Iterable[tuple[str, str]] = (),
        *,
        reason: str = "Whatever",
    ) -> None:
        content = json.dumps(payload).encode()
        self.body(status, content, [("Content-Type", "application/json"), *headers], reason=reason)

    def chunk(self, data: bytes) -> None:
        self.send(b"%x\r\n%s\r\n" % (len(data), data))

    def pause(self, seconds: float) -> None:
        if self.server.stopping.wait(seconds):
            raise ClientGone


Handler = Callable[[Reply], None]


@dataclass
class HostileServer:
    """Serve ``handler`` on ``host`` (an ephemeral port) in daemon threads."""

    host: str = "127.0.0.1"
    handler: Handler = field(default=lambda reply: reply.json(404, {"detail": "no handler"}))
    received: list[Received] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    _sockets: set[socket.socket] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._listener = socket.create_server((self.host, 0))
        self._listener.settimeout(0.2)  # where shutdown() does not wake accept()
        self.port = self._listener.getsockname()[1]

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def bytes_sent(self) -> int:
        with self._lock:
            return self._sent

    def add_sent(self, count: int) -> None:
        with self._lock:
            self._sent += count

    def start(self) -> None:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            live = list(self._sockets)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setblocking(True)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)
        sock.settimeout(10)
        try:
            request = _read_request(sock)
            if request is None:
                return
            self.received.append(request)
            with contextlib.suppress(ClientGone):
                self.handler(Reply(sock, self, request))
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()


def _read_request(sock: socket.socket) -> Received | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk or len(data) > READ_LIMIT:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < min(length, READ_LIMIT):
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Received(method=method, target=target, headers=headers, body=rest)


@contextlib.contextmanager
def serve(handler: Handler, *, host: str = "127.0.0.1") -> Iterator[HostileServer]:
    """A running :class:`HostileServer`; stopped (every connection cut) on exit."""
    server = HostileServer(host=host, handler=handler)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@functools.cache
def gzip_bomb(decoded_size: int, *, layers: int = 1) -> bytes:
    """``decoded_size`` zero bytes, gzipped ``layers`` times (about 1000:1 a layer).

    Built without compressing ``decoded_size`` bytes (0.75 s for 64 MiB): each MiB of zeros
    is deflated after a full flush, which forgets everything before it, so every MiB but
    the first and the last deflates to the same bytes; those are repeated. Gzip's trailer
    is the CRC-32 and the length of the zeros.
    """
    if layers > 1:
        return gzip.compress(gzip_bomb(decoded_size, layers=layers - 1), compresslevel=9)
    step = 1 << 20
    whole, rest = divmod(decoded_size, step)
    zeros = bytes(step)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts, middle = [], b""
    for i in range(whole):
        if 1 <= i < whole - 1 and middle:
            parts.append(middle)
            continue
        part = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
        if i == 1:
            middle = part
        parts.append(part)
    parts.append(deflate.compress(bytes(rest)) + deflate.flush())
    crc = zlib.crc32(bytes(decoded_size))
    trailer = struct.pack("<II", crc, decoded_size & 0xFFFFFFFF)
    return gzip.compress(b"")[:10] + b"".join(parts) + trailer
