"""Streamed downloads: where a file goes, and the user's files left alone.

Where: ``dest`` is a folder when it ends with a path separator (``"run.v2/"``: the raw string
decides, as ``Path()`` drops the slash), is an existing folder, or has no suffix and does
not exist (``"out"``); the file is then named from the job id. Otherwise ``dest`` is the
file's own path.

What is never done: replacing a file the SDK did not just write. Without ``overwrite=True``
an existing file named by the user is an :class:`InvalidRequestError` (``field="dest"``),
raised before any request; an existing file named from the job id is an earlier download of
the same job, kept (nothing is fetched), so a rerun is cheap. Two ids that sanitize to one
name (``a/b`` and ``a_b``) get distinct names: a changed id gets a short hash of itself.

How: the bytes go to a hidden temporary file in the target folder, which is linked into
place only when whole (a no-clobber link: a file that appeared meanwhile is not replaced)
and removed on any error or cancellation.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import cast, get_args

import anyio
import anyio.to_thread
import httpx

from ._checks import require_bool, require_id, short_repr
from ._errors import InvalidRequestError
from ._images import sniff_image_type
from ._journal import request_hash
from ._models import GenerationRequest, Job, JobStatus
from ._transport import Transport
from .providers import Provider
from .providers.base import ContentVariant

__all__ = [
    "Downloaded",
    "Target",
    "batch_target",
    "check_dest",
    "check_download",
    "existing",
    "fetch",
    "plan_target",
    "safe_filename",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIX = {"video": ".mp4", "thumbnail": ".png", "spritesheet": ".jpg"}
# A thumbnail or spritesheet named from the job id is named by what it is (servers send
# PNG, JPEG or WebP for either): the suffix above is only the guess before its first bytes.
_IMAGE_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
_SEPARATORS = tuple(sep for sep in (os.sep, os.altsep, "/") if sep)


@dataclass(frozen=True)
class Downloaded:
    """Where a download is, and whether this call wrote it (``saved``) or found an earlier
    download of the same job there and kept it (nothing was fetched)."""

    path: Path
    saved: bool

    @property
    def outcome(self) -> str:
        """``"saved"`` or ``"kept"``, for a message."""
        return "saved" if self.saved else "kept"


@dataclass(frozen=True)
class Target:
    """The file a download goes to; ``named_by_user`` when ``dest`` was its own path.

    A target is a path too (``os.PathLike``): passed as a download's ``dest`` it is used as
    it is, so a name the SDK made (:func:`batch_target`) keeps an earlier download.
    """

    path: Path
    named_by_user: bool

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def batch_target(folder: str | os.PathLike[str], request: GenerationRequest, job_id: str) -> Target:
    """Where a batch saves a prompt's video: ``<request>-<job id>.mp4`` in ``folder``.

    ``<request>`` is a short hash of what the prompt asks for (its text and parameters, as
    the journal knows it), not its line: after prompts move in the file a video keeps its
    name, an edited prompt's new video gets a new one, and a rerun that finds the file keeps
    it. Two jobs never share a name.

    >>> batch_target("videos", GenerationRequest(prompt="a fox"), "job-1").path.name
    'a36c30ab-job-1.mp4'
    """
    name = f"{request_hash(request)[:8]}-{safe_filename(job_id)}.mp4"
    return Target(Path(folder) / name, named_by_user=False)


def safe_filename(job_id: str) -> str:
    """A file name from a server-sent id: no separators, no leading dots, bounded length.

    An id the cleaning changed gets a short hash of itself (after a ``~``, which no clean
    id has), so two ids never share a name:

    >>> safe_filename("a_b"), safe_filename("a/b")
    ('a_b', 'a_b~c14cddc033')
    >>> safe_filename("../../etc/passwd")
    'etc_passwd~3754d6cb3a'
    """
    name = _UNSAFE.sub("_", job_id).strip("._")[:120] or "video"
    if name != job_id:
        name += "~" + hashlib.sha256(job_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return name


def check_download(
    provider: Provider, job: object, dest: object, variant: object, overwrite: object
) -> None:
    """Refuse a bad download before anything is sent (the job's status request too)."""
    if not isinstance(job, Job):
        require_id(job)
    if not isinstance(dest, str | os.PathLike):
        raise InvalidRequestError(
            f"must be a folder or file path, not {type(dest).__name__}", field="dest"
        )
    require_bool("overwrite", overwrite)
    variants = get_args(ContentVariant)
    if variant not in variants:
        shown = ", ".join(repr(v) for v in variants)
        raise InvalidRequestError(
            f"{short_repr(variant)} is not one of {shown}", field="variant", allowed=variants
        )
    # The provider says what it can fetch; a stand-in job asks it without a request.
    stand_in = Job(
        id=job.id if isinstance(job, Job) else str(job),
        status=JobStatus.COMPLETED,
        raw_status="completed",
        video_url="https://stand-in.invalid/video.mp4",
    )
    provider.content_request(stand_in, cast(ContentVariant, variant))


def plan_target(dest: str | os.PathLike[str], job_id: str, variant: str) -> Target:
    """The file ``dest`` means for ``job_id``'s ``variant`` (see the module's rules)."""
    if isinstance(dest, Target):
        return dest
    raw = os.fspath(dest)
    path = Path(raw)
    if raw.endswith(_SEPARATORS) or path.is_dir() or (not path.exists() and not path.suffix):
        suffix = "" if variant == "video" else f".{variant}"
        name = safe_filename(job_id) + suffix + _SUFFIX.get(variant, ".bin")
        return Target(path / name, named_by_user=False)
    return Target(path, named_by_user=True)


def check_dest(dest: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Refuse a ``dest`` no download could be written to, before anything is sent.

    For a caller that knows no job id yet (the CLI checks ``--download`` up front): a file
    of the user's without ``overwrite``, a folder path that is a file, a folder that cannot
    be written.
    """
    _check(plan_target(dest, "check", "video"), overwrite=overwrite)


def existing(target: Target, *, overwrite: bool) -> Downloaded | None:
    """An earlier download to keep; ``None`` to go and fetch; an error for the user's file."""
    for name in _named_alike(target):
        if _check(name, overwrite=overwrite):
            return Downloaded(name.path, saved=False)
    return None


def _named_alike(target: Target) -> list[Target]:
    """``target``, and for an image named from the job id, the names its type may give it."""
    suffix = target.path.suffix
    if target.named_by_user or suffix not in _IMAGE_SUFFIX.values():
        return [target]
    others = [target.path.with_suffix(s) for s in _IMAGE_SUFFIX.values() if s != suffix]
    return [target, *(Target(path, named_by_user=False) for path in others)]


def _named_by_content(target: Target, head: bytes) -> Target:
    """An image named from the job id, with the suffix its first bytes call for."""
    suffix = _IMAGE_SUFFIX.get(sniff_image_type(head) or "")
    if suffix is None or len(_named_alike(target)) == 1 or target.path.suffix == suffix:
        return target
    return Target(target.path.with_suffix(suffix), named_by_user=False)


def _check(target: Target, *, overwrite: bool) -> bool:
    """Whether ``target`` holds an earlier download to keep; raises when it cannot be used."""
    path = target.path
    if path.is_dir():
        raise InvalidRequestError(f"{path} is a folder, not a file it can replace", field="dest")
    if path.exists() or path.is_symlink():
        if overwrite:
            return False
        if target.named_by_user:
            raise InvalidRequestError(
                f"{path} exists; pass overwrite=True to replace it", field="dest"
            )
        return True
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest folder that exists: the rest will be made in it
    if not folder.is_dir():
        raise InvalidRequestError(f"{folder} is a file, not a folder", field="dest")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidRequestError(f"cannot write in {folder}", field="dest")
    return False


async def fetch(
    transport: Transport, request: httpx.Request, target: Target, overwrite: bool
) -> Downloaded:
    """One try at downloading ``request`` to ``target``: whole, or nothing left behind."""
    folder = target.path.parent
    try:
        await anyio.Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidRequestError(f"cannot make {folder}: {exc.strerror}", field="dest") from None
    partial = folder / f".{target.path.name}.{secrets.token_hex(4)}.part"
    head = bytearray()
    try:
        # "x": never through a file or link that is already there.
        async with await anyio.open_file(partial, "xb") as file:

            async def write(chunk: bytes) -> None:
                head.extend(chunk[: max(0, 16 - len(head))])
                await file.write(chunk)

            await transport.download(request, write)
        target = _named_by_content(target, bytes(head))
        saved = await anyio.to_thread.run_sync(_place, partial, target, overwrite)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.Path(partial).unlink(missing_ok=True)
    return Downloaded(target.path, saved=saved)


def _place(partial: Path, target: Target, overwrite: bool) -> bool:
    """Put the whole file in place; ``False`` when an earlier download got there first."""
    if overwrite:
        partial.replace(target.path)
        return True
    try:
        # A hard link fails when the name is taken: nothing is ever replaced.
        os.link(partial, target.path)
    except FileExistsError:
        return _taken(target)
    except OSError:
        # No hard links on this file system: check, then rename (a narrow race remains).
        if target.path.exists():
            return _taken(target)
        partial.replace(target.path)
    return True


def _taken(target: Target) -> bool:
    if target.named_by_user:
        raise InvalidRequestError(
            f"{target.path} appeared during the download; it was left as it is", field="dest"
        )
    return False  # the same job, downloaded meanwhile by another call
