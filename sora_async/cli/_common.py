"""What every part of the command line shares: exit codes and the usage error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from .._errors import InvalidRequestError

__all__ = [
    "EXIT_DAILY_LIMIT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "cli_words",
    "counted",
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


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, plural unless there is one.

    >>> counted(1, "prompt"), counted(3, "prompt"), counted(2, "was", "were")
    ('1 prompt', '3 prompts', '2 were')
    """
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


# The library's argument names, as the command line's flags.
_FLAGS = {
    "aspect_ratio": "--aspect-ratio",
    "model": "--model",
    "duration": "--duration",
    "quality": "--quality",
    "poll_interval": "--poll-interval",
    "max_poll_interval": "--max-poll-interval",
    "base_url": "--base-url",
    "api_key": "--api-key",
}
_ASSIGNMENT = re.compile(r"\b(" + "|".join(_FLAGS) + r")=(['\"]?)([^'\"\s,;)]+)\2")


def cli_words(error: InvalidRequestError) -> str:
    """A library error in the command line's words: ``--model sora-2-pro``, not
    ``pro=True`` or ``model='sora-2-pro'`` (the CLI has no ``pro``: the model says it).

    >>> cli_words(InvalidRequestError("set pro=True or model='sora-2-pro'", field="quality"))
    '--quality: set --model sora-2-pro'
    """
    text = str(error)
    if error.field in _FLAGS:
        text = _FLAGS[error.field] + text.removeprefix(error.field)
    text = text.replace("pro=True", "--model sora-2-pro")
    text = _ASSIGNMENT.sub(lambda match: f"{_FLAGS[match[1]]} {match[3]}", text)
    # "set --model sora-2-pro or --model sora-2-pro": say it once.
    return re.sub(r"(--[\w-]+ [^\s,;]+) or \1", r"\1", text)
