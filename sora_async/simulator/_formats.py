"""Wire formats of times and durations, in one place so the protocols agree."""

from __future__ import annotations

import math
from datetime import UTC, datetime


def codefast_time(wall: float | None) -> str:
    """``DD.MM.YYYY HH:MM:SS`` in UTC, or ``""`` for "no value" (codefast's convention)."""
    if wall is None:
        return ""
    return datetime.fromtimestamp(wall, UTC).strftime("%d.%m.%Y %H:%M:%S")


def iso_time(wall: float) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z``, e.g. ``2025-09-20T03:07:58.123Z``."""
    stamp = datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def seconds_value(seconds: float, *, integral: bool) -> int | float:
    """A wait as a JSON number: whole seconds (rounded up) at real speed, else 3 decimals.

    A scaled simulator must be able to say "wait 20 ms", so fractions are allowed there;
    at real speed the providers send integers, and rounding up never undershoots.
    """
    if integral:
        return max(1, math.ceil(seconds - 1e-9))
    return max(0.001, round(seconds, 3))


def seconds_header(seconds: float, *, integral: bool) -> str:
    """A wait as a ``Retry-After`` header value (see :func:`seconds_value`); whole numbers
    are written without a fraction, as RFC 9110 parsers expect."""
    value = seconds_value(seconds, integral=integral)
    return str(int(value)) if value == int(value) else str(value)


def unix_header(wall: float, *, integral: bool) -> str:
    """An absolute unix time for a header: an int (rounded up) or a float with 3 decimals."""
    if integral:
        return str(math.ceil(wall))
    return f"{wall:.3f}"


def go_duration(seconds: float) -> str:
    """A duration the way OpenAI's ``x-ratelimit-reset-*`` headers write it: ``20ms``, ``1.5s``,
    ``6m0s``, ``1h2m3s``."""
    if seconds <= 0.0:
        return "0s"
    if seconds < 1.0:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60.0:
        return f"{_trim(seconds)}s"
    minutes, rest = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    head = f"{hours}h" if hours else ""
    return f"{head}{minutes}m{_trim(rest)}s"


def _trim(seconds: float) -> str:
    """Seconds with at most 3 decimals and no trailing zeros."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return text or "0"
