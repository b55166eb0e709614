"""Streamed downloads: where a file goes, and writing it whole or not at all."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import anyio
import httpx

from ._transport import Transport

__all__ = ["download_target", "fetch", "safe_filename"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIX = {"video": ".mp4", "thumbnail": ".png", "spritesheet": ".jpg"}


def safe_filename(job_id: str) -> str:
    """A file name from a server-sent id: no separators, no leading dots, bounded length.

    >>> safe_filename("../../etc/passwd")
    'etc_passwd'
    """
    name = _UNSAFE.sub("_", job_id).strip("._")[:120]
    return name or "video"


def download_target(dest: Path, job_id: str, variant: str) -> Path:
    suffix = "" if variant == "video" else f".{variant}"
    name = safe_filename(job_id) + suffix + _SUFFIX.get(variant, ".bin")
    if dest.is_dir() or str(dest).endswith(("/", os.sep)) or not dest.suffix:
        return dest / name
    return dest


async def fetch(
    transport: Transport, request: httpx.Request, target: Path, overwrite: bool
) -> Path:
    """One try at downloading ``request`` to ``target``, whole or not at all."""
    await anyio.Path(target.parent).mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        async with await anyio.open_file(partial, "wb") as file:
            size = await transport.download(request, file.write)
        if not overwrite and await _has_size(target, size):
            return target
        await anyio.Path(partial).replace(target)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.Path(partial).unlink(missing_ok=True)
    return target


async def _has_size(path: Path, size: int) -> bool:
    try:
        return (await anyio.Path(path).stat()).st_size == size
    except FileNotFoundError:
        return False
