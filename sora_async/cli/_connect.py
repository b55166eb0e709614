"""Which service a command talks to, checked before anything is sent."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .._client import AsyncSoraClient
from .._errors import InvalidRequestError
from .._secrets import check_base_url
from ..providers import get_provider
from ._common import UsageError

__all__ = ["Connection"]


@dataclass(frozen=True)
class Connection:
    """The service options every command shares. The key is never shown (``repr=False``)."""

    provider: str = "codefast"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    simulate: bool = False
    time_scale: float = 0.01
    poll_interval: float | None = None
    max_poll_interval: float | None = None
    allow_insecure: bool = False

    def check(self) -> None:
        """Refuse options that cannot work (a :class:`UsageError`), before anything is sent."""
        if self.simulate:
            if self.base_url is not None:
                raise UsageError("--simulate runs the embedded simulator: leave out --base-url")
            if not self.time_scale > 0:
                raise UsageError("--time-scale must be greater than 0")
            return
        if self.base_url is not None:
            _check_base_url(self.base_url, allow_insecure=self.allow_insecure)
        if not (self.api_key or os.environ.get("SORA_API_KEY", "")).strip():
            raise UsageError(
                "no API key: pass --api-key or set SORA_API_KEY (or try --simulate, no key needed)"
            )

    @property
    def url(self) -> str:
        """The base URL requests go to (the provider's default when none was given)."""
        if self.simulate:
            return f"the embedded {self.provider} simulator"
        return get_provider(self.provider, base_url=self.base_url).base_url

    @property
    def target(self) -> str:
        """What a journal's job ids belong to: the provider and its URL (never the key)."""
        return f"{self.provider} {self.url}"

    @property
    def banner(self) -> str:
        """One line saying where requests go; a simulation says so plainly."""
        if self.simulate:
            return (
                f"SIMULATION: embedded {self.provider} simulator, time scale "
                f"{self.time_scale:g}; no key, no cost, placeholder videos"
            )
        return f"{self.provider} at {self.url}"

    def client(self) -> AsyncSoraClient:
        """A new client for these options (open it with ``async with``)."""
        if self.simulate:
            return AsyncSoraClient.simulated(
                provider=self.provider,
                time_scale=self.time_scale,
                api_key=self.api_key,
                poll_interval=self.poll_interval,
                max_poll_interval=self.max_poll_interval,
            )
        # The client's own defaults stand unless a value was given.
        options: dict[str, Any] = {
            name: value
            for name, value in (
                ("poll_interval", self.poll_interval),
                ("max_poll_interval", self.max_poll_interval),
            )
            if value is not None
        }
        return AsyncSoraClient(
            api_key=self.api_key, provider=self.provider, base_url=self.base_url, **options
        )


def _check_base_url(url: str, *, allow_insecure: bool) -> None:
    # The library's own rule, with the CLI's names in the message.
    try:
        check_base_url(
            url, allow_insecure_http=allow_insecure, field="--base-url", opt_in="--allow-insecure"
        )
    except InvalidRequestError as exc:
        raise UsageError(str(exc)) from None
