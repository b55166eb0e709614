"""Where the command line writes, checked before anything is sent (nothing spent on a typo).

Each check makes the folders it needs and creates (then removes) a file where the real one
will go, so that what cannot be written is found even when permission bits say nothing
(a read-only mount, ``/proc``, a path under a file, or root, for whom ``chmod`` is no bar).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ._common import UsageError

__all__ = ["check_download", "check_file", "check_folder"]


def check_file(path: Path) -> None:
    """Make the folder and make sure the file can be written, without emptying it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {_reason(exc)}") from None


def check_folder(folder: Path, *, option: str, given: str | None = None) -> None:
    """Make ``folder`` (and its parents) and make sure a file can be created in it.

    ``option`` and ``given`` (what the user typed, default ``folder``) name it in errors:

    >>> check_folder(Path("/proc/sora"), option="--download")  # doctest: +SKIP
    Traceback (most recent call last):
    UsageError: --download /proc/sora: cannot make the folder: No such file or directory
    """
    given = str(folder) if given is None else given
    if folder.exists() and not folder.is_dir():
        which = "" if given == str(folder) else f"{folder} "
        raise UsageError(f"{option} {given}: {which}is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option} {given}: cannot make the folder: {_reason(exc)}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".sora-async-check-"):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {given}: cannot write in {folder}: {_reason(exc)}") from None


def check_download(given: str, *, option: str, overwrite: bool) -> None:
    """Where one video may be saved: a folder (made now) or a file path, checked up front.

    It is a folder when it ends with a separator, is one, or has no suffix (``videos``,
    ``run.v2/``); else a file (``clip.mp4``). A file already there is replaced only with
    ``overwrite``: the user's ``notes.txt`` never silently becomes a video.
    """
    path = Path(given)
    if given.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        check_folder(path, option=option, given=given)
        return
    if os.path.lexists(path):  # a dangling link is a file the user has too
        if not overwrite:
            raise UsageError(f"{option} {given}: a file is already there (--overwrite replaces it)")
        if not path.is_file():
            raise UsageError(f"{option} {given}: not a regular file; refusing to replace it")
    check_folder(path.parent, option=option, given=given)


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
