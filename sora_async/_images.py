"""Turn a user's image (path, bytes or URL) or video (path or bytes) into checked bytes or
a URL, before sending."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path

import anyio
import httpx

from ._errors import InvalidRequestError
from ._models import ImageInput
from .providers.base import ImageData, VideoFile

__all__ = [
    "check_image_url",
    "prepare_image",
    "prepare_video",
    "sniff_image_type",
    "sniff_video_type",
]

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type of a JPEG, PNG or WebP by its magic bytes, else ``None``.

    >>> sniff_image_type(b"\\x89PNG\\r\\n\\x1a\\n....")
    'image/png'
    """
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _looks_like_url(text: str) -> bool:
    return "://" in text[:16]


def check_image_url(url: str) -> str:
    """``url`` if it is an http(s) URL that can be sent, else :class:`InvalidRequestError`.

    >>> check_image_url("https://example.com/cat.png")
    'https://example.com/cat.png'
    """
    if not url.lower().startswith(("https://", "http://")):
        raise InvalidRequestError(
            "only http(s) image URLs are accepted", field="image", allowed=("https://",)
        )
    if any(char.isspace() or not char.isprintable() for char in url):
        raise InvalidRequestError("a URL must not hold spaces or control characters", field="image")
    try:
        host = httpx.URL(url).host
    except (httpx.InvalidURL, UnicodeError) as exc:  # IDNAError is a UnicodeError
        raise InvalidRequestError(f"is not a valid URL: {exc}", field="image") from None
    if not host:
        raise InvalidRequestError("the URL has no host", field="image")
    return url


async def prepare_image(image: ImageInput, *, max_bytes: int) -> ImageData:
    """Read and check ``image``; URLs pass through (only http(s) is accepted)."""
    if isinstance(image, str) and _looks_like_url(image):
        return ImageData(url=check_image_url(image))
    data, mime, filename = await _sniffed_file(
        image, max_bytes, field="image", sniff=sniff_image_type, extensions=_EXTENSIONS
    )
    return ImageData(data=data, mime_type=mime, filename=filename)


def sniff_video_type(data: bytes) -> str | None:
    """The MIME type of an MP4, QuickTime or WebM video by its first bytes, else ``None``.

    >>> sniff_video_type(b"\x00\x00\x00\x18ftypisom....")
    'video/mp4'
    """
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


_VIDEO_EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}


async def prepare_video(video: Path | str | bytes, *, max_bytes: int) -> VideoFile:
    """Read and check a video to upload (a path or bytes; a URL is not taken)."""
    if isinstance(video, str) and _looks_like_url(video):
        raise InvalidRequestError("must be a file path or bytes, not a URL", field="video")
    if not isinstance(video, str | os.PathLike | bytes | bytearray | memoryview):
        raise InvalidRequestError(
            f"must be a file path or bytes, not {type(video).__name__}", field="video"
        )
    data, mime, filename = await _sniffed_file(
        video, max_bytes, field="video", sniff=sniff_video_type, extensions=_VIDEO_EXTENSIONS
    )
    return VideoFile(data=data, mime_type=mime, filename=filename)


_KINDS = {"image": "a JPEG, PNG or WebP image", "video": "an MP4, QuickTime or WebM video"}


async def _sniffed_file(
    value: str | os.PathLike[str] | bytes | bytearray | memoryview,
    max_bytes: int,
    *,
    field: str,
    sniff: Callable[[bytes], str | None],
    extensions: Mapping[str, str],
) -> tuple[bytes, str, str]:
    """The bytes (given, or read from a path), their sniffed MIME type and a file name."""
    if isinstance(value, bytes | bytearray | memoryview):
        data, name = bytes(value), field
    else:
        path = Path(os.fspath(value))
        data = await _read_file(path, max_bytes, field=field)
        name = path.stem or field
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes, field=field)
    mime = sniff(data)
    if mime is None:
        raise InvalidRequestError(
            f"is not {_KINDS[field]} (checked by its first bytes)",
            field=field,
            allowed=tuple(extensions),
        )
    return data, mime, f"{name}.{extensions[mime]}"


async def _read_file(path: Path, max_bytes: int, *, field: str) -> bytes:
    """At most ``max_bytes + 1`` bytes of a regular file (a size it reports may be a lie)."""
    try:
        info = await anyio.Path(path).stat()
        if not stat.S_ISREG(info.st_mode):
            # /dev/zero reports 0 bytes and never ends; a FIFO may never answer.
            raise InvalidRequestError(f"{path} is not a regular file", field=field)
        if info.st_size > max_bytes:
            raise _too_large(info.st_size, max_bytes, field=field)
        async with await anyio.open_file(path, "rb") as file:
            return await file.read(max_bytes + 1)
    except InvalidRequestError:
        raise
    except OSError as exc:
        reason = exc.strerror or exc
        raise InvalidRequestError(f"cannot read {path}: {reason}", field=field) from exc
    except ValueError as exc:  # a NUL or an unencodable character in the path
        raise InvalidRequestError(f"cannot read {path!r}: {exc}", field=field) from exc


def _too_large(size: int, limit: int, *, field: str) -> InvalidRequestError:
    return InvalidRequestError(f"is {size} bytes; at most {limit} are accepted", field=field)
