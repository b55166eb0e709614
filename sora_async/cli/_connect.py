"""Which service a command talks to, checked before anything is sent."""

from __future__ import annotations

import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.request import getproxies

import anyio
import httpx

from .._client import AsyncSoraClient
from .._errors import APIConnectionError, InvalidRequestError
from .._secrets import check_base_url
from ..providers import get_provider
from ._common import UsageError

__all__ = ["Connection"]

# How long the first connect may take before the client's own timeouts and retries decide.
_PROBE_SECONDS = 5.0


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
            if not (self.time_scale > 0 and math.isfinite(self.time_scale)):
                raise UsageError("--time-scale must be a number greater than 0")
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

    @asynccontextmanager
    async def first_contact(self) -> AsyncIterator[None]:
        """Around a command's first request: a service that cannot be reached is a UsageError.

        First a bare TCP connect, as the client would make it (skipped behind a proxy), so
        that a refused connection or an unknown host is told at once, not after every retry.
        Then a first request that never carried a submission and got no answer (an
        ``APIConnectionError`` with ``maybe_submitted`` false) is told the same way.
        Nothing was spent either way: a configuration error, exit status 2.
        """
        if not self.simulate:
            await self._probe()
        try:
            yield
        except APIConnectionError as exc:
            if exc.maybe_submitted:
                raise
            raise self._unreachable(str(exc)) from None

    async def _probe(self) -> None:
        if getproxies():  # httpx would connect to the proxy, not to the service
            return
        url = httpx.URL(self.url)  # checked by check(): a usable http(s) URL with a host
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            with anyio.fail_after(_PROBE_SECONDS):
                stream = await anyio.connect_tcp(url.host, port)
        except TimeoutError:
            return  # slow, not absent: the client's own timeouts and retries decide
        except OSError as exc:
            raise self._unreachable(_reason(exc)) from None
        await stream.aclose()

    def _unreachable(self, reason: str) -> UsageError:
        return UsageError(f"could not reach the service at {self.url}: {reason}")

    def client(self, *, simulator_state: Path | None = None) -> AsyncSoraClient:
        """A new client for these options (open it with ``async with``).

        ``simulator_state``: with --simulate, the file the simulator keeps its jobs in.
        """
        if self.simulate:
            return AsyncSoraClient.simulated(
                provider=self.provider,
                time_scale=self.time_scale,
                api_key=self.api_key,
                poll_interval=self.poll_interval,
                max_poll_interval=self.max_poll_interval,
                state=simulator_state,
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
            api_key=self.api_key,
            provider=self.provider,
            base_url=self.base_url,
            allow_insecure_http=self.allow_insecure,
            **options,
        )


def _check_base_url(url: str, *, allow_insecure: bool) -> None:
    # The library's own rule, with the CLI's names in the message.
    try:
        check_base_url(
            url, allow_insecure_http=allow_insecure, field="--base-url", opt_in="--allow-insecure"
        )
    except InvalidRequestError as exc:
        raise UsageError(str(exc)) from None


def _reason(error: OSError) -> str:
    """Why a connect failed, in words ("Connection refused", "Name or service not known")."""
    # anyio tries every address and raises "All connection attempts failed" from the last.
    if isinstance(error.__cause__, OSError):
        error = error.__cause__
    if error.errno and error.errno > 0:
        return os.strerror(error.errno)
    return error.strerror or str(error)
