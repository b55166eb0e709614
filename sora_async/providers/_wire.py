"""Small pieces the providers share: wire-model field types and lenient number readers.

Wire models describe what a server sends, so they ignore unknown fields, read an empty
string as "no value" and turn every timestamp into a timezone-aware datetime. The ``as_*``
readers are for headers and for quota fields of error bodies: there a malformed value is
ignored rather than raised, because a bad hint must never hide the real answer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    ValidationError,
)

from .._errors import InvalidRequestError
from .._models import GenerationRequest, Quota
from .base import Provider, WireModel, parse_timestamp

__all__ = [
    "SORA_MODELS",
    "Id",
    "OptFloat",
    "OptInt",
    "OptStr",
    "Timestamp",
    "Wire",
    "as_float",
    "as_int",
    "from_now",
    "is_pro",
    "loose",
    "next_midnight_utc",
    "quota_or_none",
    "text",
    "unix_time",
]


class Wire(BaseModel):
    """Base of every wire model: unknown fields are the server's business, not an error."""

    model_config = ConfigDict(extra="ignore")


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


def _timestamp(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except (OverflowError, OSError) as exc:  # absurd unix times; pydantic only catches these
        raise ValueError(f"not a timestamp: {value!r}") from exc


OptStr = Annotated[str | None, BeforeValidator(_empty_is_none)]
OptInt = Annotated[int | None, BeforeValidator(_empty_is_none)]
OptFloat = Annotated[float | None, BeforeValidator(_empty_is_none)]
#: An identifier: without one a job cannot be tracked, so an empty one is a parse error.
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Timestamp = Annotated[AwareDatetime | None, BeforeValidator(_timestamp)]


def loose(model: type[WireModel], payload: Any) -> WireModel | None:
    """``payload`` read as ``model``, or ``None`` when it does not fit (for error bodies)."""
    try:
        return model.model_validate(payload)
    except ValidationError:
        return None


def as_float(value: object) -> float | None:
    """A finite number from a JSON number or a numeric string; ``None`` for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_int(value: object) -> int | None:
    """A whole number from a JSON number or a numeric string; ``None`` for anything else.

    >>> as_int("18"), as_int("1.0"), as_int("soon"), as_int(True)
    (18, 1, None, None)
    """
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() else None


def text(value: object) -> str | None:
    """``value`` when it is a non-empty string, else ``None`` (for leniently read messages)."""
    return value if isinstance(value, str) and value else None


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
