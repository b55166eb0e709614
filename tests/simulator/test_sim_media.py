"""The MP4 and PNG the simulator makes, and multipart parsing."""

from __future__ import annotations

import os
import struct
import zlib

import httpx
import pytest

from sora_async.simulator._media import mp4, png
from sora_async.simulator._multipart import parse_form

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"dinf", b"stbl"}


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """Top-level (type, payload) pairs; fails on any box that overruns its parent."""
    found = []
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert size >= 8
        assert offset + size <= len(data)
        found.append((kind, data[offset + 8 : offset + size]))
        offset += size
    assert offset == len(data)
    return found


def tree(data: bytes) -> dict[bytes, bytes]:
    """Every box in the file by type (containers walked recursively)."""
    flat: dict[bytes, bytes] = {}
    for kind, payload in boxes(data):
        flat[kind] = payload
        if kind in CONTAINERS:
            flat.update(tree(payload))
    return flat


def test_mp4_is_well_formed() -> None:
    data = mp4(seconds=12.0, width=1280, height=720)
    assert data[4:8] == b"ftyp"
    assert [kind for kind, _ in boxes(data)] == [b"ftyp", b"moov", b"mdat"]
    flat = tree(data)
    assert {b"mvhd", b"trak", b"tkhd", b"mdhd", b"hdlr", b"stbl"} <= set(flat)
    timescale, duration = struct.unpack(">II", flat[b"mvhd"][12:20])
    assert duration / timescale == 12.0
    width, height = struct.unpack(">II", flat[b"tkhd"][-8:])
    assert (width >> 16, height >> 16) == (1280, 720)
    assert flat[b"hdlr"][8:12] == b"vide"


def test_png_is_well_formed() -> None:
    data = png(width=16, height=9)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        offset += 12 + length
    assert list(chunks) == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">II", chunks[b"IHDR"][:8]) == (16, 9)
    assert len(zlib.decompress(chunks[b"IDAT"])) == 9 * (1 + 16 * 3)


def test_multipart_round_trips_binary_files_and_text() -> None:
    blob = os.urandom(4096) + b"\r\n--boundary\r\n\r\n"
    request = httpx.Request(
        "POST",
        "http://x/",
        data={"prompt": "héllo\r\nworld"},
        files={"file": ("photo.png", blob, "image/png")},
    )
    form = parse_form(request.headers["content-type"], request.read())
    assert form["file"].data == blob
    assert (form["file"].filename, form["file"].content_type) == ("photo.png", "image/png")
    assert form["prompt"].text == "héllo\r\nworld"
    assert form["prompt"].filename is None


def test_multipart_rejects_other_bodies() -> None:
    with pytest.raises(ValueError, match="multipart"):
        parse_form("application/json", b"{}")
