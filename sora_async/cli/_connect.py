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
from pydantic import ValidationError

from .._client import AsyncSoraClient
from .._errors import APIConnectionError, InvalidRequestError
from .._limits import Limits
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
    sim_settings: tuple[str, ...] = ()
    limits: Limits | None = None
    shared_state: str | None = None

    def check(self) -> None:
        """Refuse options that cannot work (a :class:`UsageError`), before anything is sent."""
        if self.sim_settings and not self.simulate:
            raise UsageError("--sim-setting changes the embedded simulator: add --simulate")
        if self.simulate:
            if self.base_url is not None:
                raise UsageError("--simulate runs the embedded simulator: leave out --base-url")
            if not (self.time_scale > 0 and math.isfinite(self.time_scale)):
                raise UsageError("--time-scale must be a number greater than 0")
            simulator_settings(self.sim_settings, provider=self.provider)
            self._check_poll_intervals()
            return
        self._check_poll_intervals()
        if self.base_url is not None:
            _check_base_url(self.base_url, allow_insecure=self.allow_insecure)
        if not (self.api_key or os.environ.get("SORA_API_KEY", "")).strip():
            raise UsageError(
                "no API key: pass --api-key or set SORA_API_KEY (or try --simulate, no key needed)"
            )

    def _check_poll_intervals(self) -> None:
        given = {
            "--poll-interval": self.poll_interval,
            "--max-poll-interval": self.max_poll_interval,
        }
        for option, value in given.items():
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise UsageError(f"{option} must be a number of seconds greater than 0")
        # The client's defaults (3 and 30 s; a simulation's scaled) where none was given.
        scale = self.time_scale if self.simulate else 1.0
        shortest = self.poll_interval or 3.0 * scale
        longest = self.max_poll_interval or 30.0 * scale
        if longest < shortest:
            shown = [
                f"{option} {value:g}" if value is not None else f"{option} (default {default:g})"
                for (option, value), default in zip(given.items(), (shortest, longest), strict=True)
            ]
            raise UsageError(
                f"{shown[1]} is shorter than {shown[0]}: the longest gap between two polls "
                "of a job cannot be shorter than the shortest"
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
                **simulator_settings(self.sim_settings, provider=self.provider),
                limits=self.limits,
                shared_state=self.shared_state,
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
            limits=self.limits,
            shared_state=self.shared_state,
            **options,
        )


# The simulator's settings a trial may change (SimulatorSettings' fields, CLI-spelled);
# the provider, the time scale and the key have their own options.
SIM_SETTINGS = (
    "daily-limit",
    "rate-limit",
    "rate-window",
    "concurrent-limit",
    "credits",
    "workers",
    "seed",
    "service-time",
    "pickup-delay",
    "failure-rate",
    "failure-error",
    "fail-prompts-containing",
)


def simulator_settings(given: tuple[str, ...], *, provider: str) -> dict[str, Any]:
    """``--sim-setting NAME=VALUE`` options as the simulator's settings, checked by it.

    >>> simulator_settings(("daily-limit=30",), provider="codefast")
    {'daily_limit': 30}
    """
    from ..simulator import SimulatorSettings

    settings: dict[str, Any] = {}
    for text in given:
        name, equals, value = text.partition("=")
        name = name.strip().replace("_", "-")
        if not equals or name not in SIM_SETTINGS:
            raise UsageError(
                f"--sim-setting {text}: expected NAME=VALUE, NAME one of {', '.join(SIM_SETTINGS)}"
            )
        field = name.replace("-", "_")
        settings[field] = value.split(",") if field == "service_time" else value
        try:
            SimulatorSettings(provider=provider, **settings)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ").replace(field, name)
            raise UsageError(f"--sim-setting {text}: {reason[:1].lower()}{reason[1:]}") from None
    # The values as the simulator read them ("30" is 30), for the client's own use.
    checked = SimulatorSettings(provider=provider, **settings)
    values = {name: getattr(checked, name) for name in settings}
    for name, value in values.items():
        numbers = value if isinstance(value, tuple) else (value,)
        if any(isinstance(n, float) and not math.isfinite(n) for n in numbers):
            # An endless pickup delay or service time would hang the trial, not test it.
            shown = name.replace("_", "-")
            raise UsageError(f"--sim-setting {shown}: must be a finite number")
    return values


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
