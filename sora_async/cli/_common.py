"""What every part of the command line shares: exit codes and the usage error."""

from __future__ import annotations

__all__ = [
    "EXIT_DAILY_LIMIT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
]

EXIT_OK = 0  # every prompt completed
EXIT_FAILED = 1  # some prompts failed (or a call failed)
EXIT_USAGE = 2  # bad input or configuration: nothing was spent
EXIT_DAILY_LIMIT = 3  # the daily limit stopped the batch; prompts were skipped
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells do)


class UsageError(Exception):
    """Bad input or configuration, found before anything was sent: exit 2 with the message."""
