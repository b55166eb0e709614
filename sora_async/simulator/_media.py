"""Media the simulator makes itself: a small structurally valid MP4, a PNG thumbnail, and
the store of uploaded files."""

from __future__ import annotations

import functools
import struct
import threading
import zlib
from dataclasses import dataclass

_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


@functools.lru_cache(maxsize=64)
def mp4(*, seconds: float, width: int, height: int) -> bytes:
    """An MP4 (``ftyp`` + ``moov``/``mvhd``/``trak`` + ``mdat``) of the given duration and size.

    The track has no samples: players show an empty video, but every box is well formed,
    so parsers and "does it start with ftyp" checks are satisfied.
    """
    timescale = 1000
    duration = round(seconds * timescale)
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, timescale, duration),
        struct.pack(">IH", 0x00010000, 0x0100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        0x3,  # enabled, in movie
        struct.pack(">IIIII", 0, 0, 1, 0, duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = _full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, duration, 0x55C4, 0))
    hdlr = _full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
    vmhd = _full_box(b"vmhd", 0, 1, bytes(8))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    empty = struct.pack(">I", 0)
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, empty),
        _full_box(b"stts", 0, 0, empty),
        _full_box(b"stsc", 0, 0, empty),
        _full_box(b"stsz", 0, 0, empty, empty),
        _full_box(b"stco", 0, 0, empty),
    )
    mdia = _box(b"mdia", mdhd, hdlr, _box(b"minf", vmhd, dinf, stbl))
    moov = _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))
    mdat = _box(b"mdat", b"sora_async simulator".ljust(32, b"\x00"))
    return ftyp + moov + mdat


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=16)
def png(*, width: int = 16, height: int = 9, rgb: tuple[int, int, int] = (40, 90, 160)) -> bytes:
    """A solid-colour RGB PNG, used for thumbnails and spritesheets."""
    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )


@dataclass(frozen=True, slots=True)
class StoredFile:
    """An uploaded file, served back at ``/files/uploads/<name>``."""

    content_type: str
    data: bytes


class Uploads:
    """Uploaded files, in memory, by name."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}
        self._lock = threading.Lock()
        self._count = 0

    def add(self, data: bytes, content_type: str, suffix: str) -> str:
        """Store a file and return its new name."""
        with self._lock:
            self._count += 1
            name = f"upload-{self._count:06d}{suffix}"
            self._files[name] = StoredFile(content_type, data)
        return name

    def get(self, name: str) -> StoredFile | None:
        """The file with this name, if any."""
        return self._files.get(name)
