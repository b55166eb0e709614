"""Small pieces the providers share: wire-model field types and lenient number readers.

Wire models describe what a server sends, so they ignore unknown fields, read an empty
string as "no value" and turn every timestamp into a timezone-aware datetime. They refuse
what no later step could use: NaN and infinities, counts below zero or past 2**53, ids that
cannot be sent back; free text keeps only what UTF-8 can carry. The ``as_*``, ``count`` and
``limit`` readers are for headers and for quota fields: there a malformed or absurd value
is ignored rather than raised, because a bad hint must never hide the real answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from .._errors import InvalidRequestError
from .._models import GenerationRequest, Quota
from .base import Provider, WireModel, parse_timestamp, readable

__all__ = [
    "MAX_COUNT",
    "SORA_MODELS",
    "Id",
    "OptCount",
    "OptFloat",
    "OptStr",
    "Timestamp",
    "Wire",
    "WireInt",
    "as_float",
    "as_int",
    "as_wait",
    "count",
    "from_now",
    "is_pro",
    "limit",
    "loose",
    "next_midnight_utc",
    "quota_or_none",
    "text",
    "unix_time",
]

#: The largest whole number every JSON reader keeps exact; counts past it are nonsense.
MAX_COUNT = 2**53 - 1


class Wire(BaseModel):
    """Base of every wire model: unknown fields are the server's business, not an error."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


def _text_or_none(value: Any) -> Any:
    if isinstance(value, str):
        return readable(value) if value else None
    return value


def _sendable_id(value: Any) -> Any:
    # An id goes back into URLs and file names: replacing a character would name another job.
    if isinstance(value, str) and readable(value) != value:
        raise ValueError("holds a character UTF-8 cannot encode")
    return value


OptStr = Annotated[str | None, BeforeValidator(_text_or_none)]
WireInt = Annotated[int, Field(ge=-MAX_COUNT, le=MAX_COUNT)]
OptCount = Annotated[
    Annotated[int, Field(ge=0, le=MAX_COUNT)] | None, BeforeValidator(_empty_is_none)
]
OptFloat = Annotated[float | None, BeforeValidator(_empty_is_none)]
#: An identifier: without one a job cannot be tracked, so an empty one is a parse error.
Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), BeforeValidator(_sendable_id)
]
Timestamp = Annotated[AwareDatetime | None, BeforeValidator(parse_timestamp)]


def loose(model: type[WireModel], payload: Any) -> WireModel | None:
    """``payload`` read as ``model``, or ``None`` when it does not fit (for error bodies)."""
    try:
        return model.model_validate(payload)
    except ValidationError:
        return None


def as_float(value: object) -> float | None:
    """A finite number from a JSON number or a numeric string; ``None`` for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):  # OverflowError: an int past the float range
        return None
    return number if math.isfinite(number) else None


def as_int(value: object) -> int | None:
    """A whole number up to ±2**53 from a JSON number or a numeric string; else ``None``.

    >>> as_int("18"), as_int("1.0"), as_int("soon"), as_int(True), as_int(10**400)
    (18, 1, None, None, None)
    """
    number = as_float(value)
    if number is None or not number.is_integer() or abs(number) > MAX_COUNT:
        return None
    return int(number)


def count(value: object) -> int | None:
    """A count (remaining, active): a whole number from 0 to 2**53, else ``None``."""
    number = as_int(value)
    return number if number is not None and number >= 0 else None


def limit(value: object) -> int | None:
    """A limit: a whole number from 1 to 2**53, else ``None`` (0 would stop everything)."""
    number = as_int(value)
    return number if number is not None and number >= 1 else None


def as_wait(value: object) -> float | None:
    """A server's wait (seconds, milliseconds): finite and not negative, else ``None``."""
    number = as_float(value)
    return number if number is not None and number >= 0 else None


def text(value: object) -> str | None:
    """``value`` when it is a non-empty string, else ``None`` (for leniently read messages).

    Lone surrogates are replaced, so that the text can be printed and stored.
    """
    return readable(value) if isinstance(value, str) and value else None


def from_now(seconds: float | None, *, now: datetime | None = None) -> datetime | None:
    """``now`` plus ``seconds``; ``None`` when there is no sane number of seconds."""
    if seconds is None or not 0 <= seconds < 10 * 365 * 86400:
        return None  # also drops NaN, which fails every comparison
    return (now or datetime.now(UTC)) + timedelta(seconds=seconds)


# Below this a "unix time" is really a number of seconds from now (some relays send that).
_EPOCH_FLOOR = 1_000_000_000


def unix_time(value: object, *, now: datetime | None = None) -> datetime | None:
    """A reset time from unix seconds (possibly fractional); ``None`` when malformed."""
    seconds = as_float(value)
    if seconds is None or seconds < 0:
        return None
    if seconds < _EPOCH_FLOOR:
        return from_now(seconds, now=now)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def next_midnight_utc(now: datetime | None = None) -> datetime:
    """The next 00:00 UTC, when daily quotas reset.

    >>> next_midnight_utc(datetime(2025, 9, 20, 3, 7, tzinfo=UTC)).isoformat()
    '2025-09-21T00:00:00+00:00'
    """
    today = (now or datetime.now(UTC)).astimezone(UTC)
    return datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)


_RATE_LIMIT_PREFIX = b"x-ratelimit-"


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, Any]:
    """The usual ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (unix time, or seconds from
    now as some gateways send) as quota fields; a malformed one is left out."""
    if isinstance(headers, httpx.Headers) and not any(
        name[: len(_RATE_LIMIT_PREFIX)].lower() == _RATE_LIMIT_PREFIX for name, _ in headers.raw
    ):
        # Where none comes (most answers of some providers), one look at the names costs
        # a third of three lookups.
        return {"rate_limit": None, "rate_remaining": None, "rate_reset": None}
    return {
        "rate_limit": limit(headers.get("x-ratelimit-limit")),
        "rate_remaining": count(headers.get("x-ratelimit-remaining")),
        "rate_reset": unix_time(headers.get("x-ratelimit-reset")),
    }


def quota_or_none(fields: Mapping[str, Any]) -> Quota | None:
    """A :class:`Quota` of the fields that are known, or ``None`` when none is."""
    known = {name: value for name, value in fields.items() if value is not None}
    return Quota(**known) if known else None


SORA_MODELS = ("sora-2", "sora-2-pro")


def is_pro(request: GenerationRequest) -> bool:
    """Whether ``request`` asks for sora-2-pro (``pro=True`` or the model named so).

    A model outside :data:`SORA_MODELS`, or ``sora-2`` with ``pro=True``, is an error.
    """
    Provider.require_choice("model", request.model, SORA_MODELS)
    if request.pro and request.model == "sora-2":
        raise InvalidRequestError(
            "'sora-2' contradicts pro=True", field="model", allowed=("sora-2-pro",)
        )
    return request.pro or request.model == "sora-2-pro"
