"""Checks of the caller's arguments: a typed :class:`InvalidRequestError` naming the
argument, raised before anything is sent (``timeout="30"`` is not a ``TypeError`` later)."""

from __future__ import annotations

import math
import numbers

from ._errors import InvalidRequestError

__all__ = [
    "require_bool",
    "require_callback",
    "require_client_settings",
    "require_id",
    "require_number",
    "require_timeout",
    "short_repr",
]


def require_number(
    name: str, value: object, *, least: float, inclusive: bool = True, whole: bool = False
) -> None:
    """Refuse anything but a finite number (a whole one with ``whole``) from ``least`` up.

    >>> require_number("max_connections", 2.5, least=1, whole=True)
    Traceback (most recent call last):
    ...
    sora_async._errors.InvalidRequestError: max_connections: must be a whole number, not float 2.5
    """
    kind = numbers.Integral if whole else numbers.Real
    what = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, kind):
        raise InvalidRequestError(
            f"must be {what}, not {type(value).__name__} {short_repr(value)}", field=name
        )
    bound = "at least" if inclusive else "greater than"
    number = float(value)
    if not math.isfinite(number) or number < least or (number == least and not inclusive):
        raise InvalidRequestError(f"must be {what} {bound} {least:g}, not {value!r}", field=name)


def require_client_settings(
    *, seconds: dict[str, object], counts: dict[str, object], flags: dict[str, object]
) -> None:
    """The client's settings: ``seconds`` above 0, ``counts`` whole and at least 1 (but
    ``max_retries``, at least 0), ``flags`` True or False."""
    for name, value in seconds.items():
        require_number(name, value, least=0.0, inclusive=False)
    for name, value in counts.items():
        require_number(name, value, least=0 if name == "max_retries" else 1, whole=True)
    for name, value in flags.items():
        require_bool(name, value)


def require_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InvalidRequestError(f"must be True or False, not {short_repr(value)}", field=name)


def require_timeout(timeout: object) -> None:
    """A wait's ``timeout``: ``None`` (no limit) or a number of seconds, 0 or more."""
    if timeout is not None and timeout != math.inf:
        require_number("timeout", timeout, least=0.0)


def require_callback(name: str, value: object) -> None:
    if value is not None and not callable(value):
        raise InvalidRequestError(f"must be callable, not {type(value).__name__}", field=name)


def require_id(job_id: object, *, field: str = "job_id") -> str:
    if not isinstance(job_id, str) or not job_id.strip():
        raise InvalidRequestError("must be a non-empty string", field=field)
    return job_id


def short_repr(value: object) -> str:
    """``repr(value)``, cut for a message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"
