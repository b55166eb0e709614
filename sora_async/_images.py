"""Turn a user's image (path, bytes or URL) into checked bytes or a URL, before sending."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import anyio
import httpx

from ._errors import InvalidRequestError
from ._models import ImageInput
from .providers.base import ImageData

__all__ = ["check_image_url", "prepare_image", "sniff_image_type"]

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
    if isinstance(image, bytes):
        data, name = image, "image"
    else:
        path = Path(os.fspath(image))
        data = await _read_image_file(path, max_bytes)
        name = path.stem or "image"
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes)
    mime = sniff_image_type(data)
    if mime is None:
        raise InvalidRequestError(
            "is not a JPEG, PNG or WebP image (checked by its first bytes)",
            field="image",
            allowed=tuple(_EXTENSIONS),
        )
    return ImageData(data=data, mime_type=mime, filename=f"{name}.{_EXTENSIONS[mime]}")


async def _read_image_file(path: Path, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of a regular file (a size it reports may be a lie)."""
    try:
        info = await anyio.Path(path).stat()
        if not stat.S_ISREG(info.st_mode):
            # /dev/zero reports 0 bytes and never ends; a FIFO may never answer.
            raise InvalidRequestError(f"{path} is not a regular file", field="image")
        if info.st_size > max_bytes:
            raise _too_large(info.st_size, max_bytes)
        async with await anyio.open_file(path, "rb") as file:
            return await file.read(max_bytes + 1)
    except InvalidRequestError:
        raise
    except OSError as exc:
        reason = exc.strerror or exc
        raise InvalidRequestError(f"cannot read {path}: {reason}", field="image") from exc
    except ValueError as exc:  # a NUL or an unencodable character in the path
        raise InvalidRequestError(f"cannot read {path!r}: {exc}", field="image") from exc


def _too_large(size: int, limit: int) -> InvalidRequestError:
    return InvalidRequestError(f"is {size} bytes; at most {limit} are accepted", field="image")
