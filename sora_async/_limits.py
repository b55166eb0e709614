"""A user's own limits: a higher tier, a relay with other limits, a shared key's own budget."""

from __future__ import annotations

from dataclasses import dataclass

from ._checks import require_number
from ._errors import InvalidRequestError

__all__ = ["Limits", "check_limits"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Limits this client keeps on top of what the provider says; ``None`` leaves one to the
    provider (its published number until its answers say otherwise).

    The provider's rate-limit headers are the truth about its own limits; these are yours,
    always kept as well: a key shared with other services can be given a budget of its own.

    * ``rate_limit`` requests per ``rate_window`` seconds (rolling), submits and polls alike;
    * ``concurrent_tasks`` unfinished jobs at once (a submit waits for a free slot);
    * ``daily_limit`` submissions a day (UTC), counted by this client (by every client on the
      same key with ``shared_state``); prompts past it come back ``skipped``.

    >>> Limits(rate_limit=8, rate_window=2).rate_window
    2
    >>> Limits(rate_limit=0)
    Traceback (most recent call last):
    ...
    sora_async._errors.InvalidRequestError: rate_limit: must be a whole number at least 1, not 0
    """

    rate_limit: int | None = None
    rate_window: float | None = None
    concurrent_tasks: int | None = None
    daily_limit: int | None = None

    def __post_init__(self) -> None:
        for name in ("rate_limit", "concurrent_tasks", "daily_limit"):
            value = getattr(self, name)
            if value is not None:
                require_number(name, value, least=1, whole=True)
        if self.rate_window is not None:
            require_number("rate_window", self.rate_window, least=0.0, inclusive=False)
            if self.rate_limit is None:
                raise InvalidRequestError("needs rate_limit as well", field="rate_window")


def check_limits(limits: object) -> Limits:
    """The client's ``limits=``: a :class:`Limits` or ``None`` (the provider's own)."""
    if limits is None:
        return Limits()
    if not isinstance(limits, Limits):
        raise InvalidRequestError(
            f"must be a sora_async.Limits, not {type(limits).__name__}", field="limits"
        )
    return limits
