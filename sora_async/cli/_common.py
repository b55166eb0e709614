"""What every part of the command line shares: exit codes and the usage error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "EXIT_DAILY_LIMIT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "reading",
]

EXIT_OK = 0  # every prompt completed
EXIT_FAILED = 1  # some prompts failed (or a call failed)
EXIT_USAGE = 2  # bad input or configuration: nothing was spent
EXIT_DAILY_LIMIT = 3  # the daily limit stopped the batch; prompts were skipped
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells do)


class UsageError(Exception):
    """Bad input or configuration, found before anything was sent: exit 2 with the message."""


@contextmanager
def reading(name: str, *, kind: str) -> Iterator[None]:
    """Reading the user's file ``name`` (a ``kind``, e.g. "prompt file"): what goes wrong
    is a one-line :class:`UsageError`, never a traceback."""
    try:
        yield
    except FileNotFoundError:
        raise UsageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{name}: is a directory, not a {kind}") from None
    except PermissionError:
        raise UsageError(f"{name}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name}: not UTF-8 text ({exc.reason})") from None
