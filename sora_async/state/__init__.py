"""Where the request budget lives: in this process (the default) or in Redis, shared by
every process on one key (``shared_state="redis://..."``). See docs/scaling.md.

>>> budget = make_budget(None, provider=get_provider("soravideo"), api_key="sk-x")
>>> type(budget).__name__
'RequestBudget'
"""

from __future__ import annotations

import os

from .._budget import RequestBudget
from .._errors import InvalidRequestError
from .._limits import Limits
from ..providers import get_provider
from ..providers.base import Provider, ProviderLimits
from ._base import Budget, SharedStateError

__all__ = ["Budget", "SharedStateError", "check_shared_state", "make_budget"]

_SCHEMES = ("redis://", "rediss://", "unix://")

_ = get_provider  # for the doctest above


def check_shared_state(value: object) -> str | None:
    """``shared_state=``, else ``SORA_SHARED_STATE``: ``None`` or a Redis URL (the redis
    extra installed), checked before anything is sent."""
    if value is None:
        value = os.environ.get("SORA_SHARED_STATE") or None
        if value is None:
            return None
    if not isinstance(value, str) or not value.startswith(_SCHEMES):
        shown = type(value).__name__ if not isinstance(value, str) else "a URL of another kind"
        raise InvalidRequestError(
            f"must be None or a redis://, rediss:// or unix:// URL, not {shown}",
            field="shared_state",
        )
    from ._redis import redis_module

    redis_module()  # a missing extra is told now, in one line
    return value


def make_budget(
    shared_state: str | None,
    *,
    provider: Provider,
    api_key: str,
    limits: ProviderLimits | None = None,
    own: Limits | None = None,
    max_pause: float = 60.0,
    time_scale: float = 1.0,
) -> Budget:
    """The budget for one client: in-process for ``None``, else in Redis under a namespace
    derived (HMAC) from the provider, base URL and key."""
    limits = limits or provider.limits
    if shared_state is None:
        return RequestBudget(limits, own=own, max_pause=max_pause)
    from ._redis import RedisBudget, namespace_for

    return RedisBudget(
        shared_state,
        namespace=namespace_for(provider.name, provider.base_url, api_key),
        limits=limits,
        own=own,
        max_pause=max_pause,
        lease=max(0.5, 30.0 * time_scale),
    )
