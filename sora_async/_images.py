"""Turn a user's image (path, bytes or URL) into checked bytes or a URL, before sending."""

from __future__ import annotations

import os
from pathlib import Path

import anyio

from ._errors import InvalidRequestError
from ._models import ImageInput
from .providers.base import ImageData

__all__ = ["prepare_image", "sniff_image_type"]

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


async def prepare_image(image: ImageInput, *, max_bytes: int) -> ImageData:
    """Read and check ``image``; URLs pass through (only http(s) is accepted)."""
    if isinstance(image, str) and _looks_like_url(image):
        if not image.lower().startswith(("https://", "http://")):
            raise InvalidRequestError(
                "only http(s) image URLs are accepted", field="image", allowed=("https://",)
            )
        return ImageData(url=image)
    if isinstance(image, bytes):
        data, name = image, "image"
    else:
        path = Path(os.fspath(image))
        try:
            size = (await anyio.Path(path).stat()).st_size
            if size > max_bytes:
                raise _too_large(size, max_bytes)
            data = await anyio.Path(path).read_bytes()
        except OSError as exc:
            raise InvalidRequestError(f"cannot read {path}: {exc.strerror}", field="image") from exc
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


def _too_large(size: int, limit: int) -> InvalidRequestError:
    return InvalidRequestError(f"is {size} bytes; at most {limit} are accepted", field="image")
