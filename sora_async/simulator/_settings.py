"""The simulator's settings: one validated pydantic model with per-provider defaults."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._faults import Faults
from ._types import Provider

# What ``None`` means for each provider (API.md). ``None`` here means "unlimited".
PROVIDER_DEFAULTS: dict[str, dict[str, int | None]] = {
    "codefast": {
        "workers": 4,
        "daily_limit": 20,
        "rate_limit": None,
        "concurrent_limit": None,
        "credits": None,
    },
    "soravideo": {
        "workers": 64,
        "daily_limit": 500,
        "rate_limit": 20,
        "concurrent_limit": 3,
        "credits": 100_000,
    },
    "openai": {
        "workers": 8,
        "daily_limit": None,
        "rate_limit": None,
        "concurrent_limit": None,
        "credits": None,
    },
}


class SimulatorSettings(BaseModel):
    """How a :class:`~sora_async.simulator.Simulator` behaves. Frozen once built.

    Durations are *simulated* seconds; ``time_scale`` multiplies them into real seconds,
    so ``time_scale=0.01`` runs a 60-second job in 0.6 s. Fields left ``None`` take the
    provider's default (see ``PROVIDER_DEFAULTS``); after validation they hold it.

    >>> SimulatorSettings(provider="soravideo").concurrent_limit
    3
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Provider = "codefast"
    time_scale: float = Field(default=1.0, gt=0.0, allow_inf_nan=False)
    seed: int = 0
    workers: int | None = Field(default=None, ge=1)
    """Parallel worker slots (codefast 4, soravideo 64, openai 8)."""
    service_time: tuple[float, float] = (30.0, 90.0)
    """Uniform range of a job's processing time, sim seconds."""
    pickup_delay: float = Field(default=1.0, ge=0.0)
    """Sim seconds between a submit and the earliest start (so a new job is always queued)."""
    api_key: str | None = Field(default=None, min_length=1, repr=False)
    """The only key accepted; ``None`` accepts any non-empty key."""
    daily_limit: int | None = Field(default=None, ge=0)
    """codefast: submits/day per key (20); soravideo: requests/day per key (500)."""
    rate_limit: int | None = Field(default=None, ge=0)
    """Requests per rolling ``rate_window`` per key (soravideo 20)."""
    rate_window: float = Field(default=60.0, gt=0.0)
    concurrent_limit: int | None = Field(default=None, ge=0)
    """Unfinished tasks per key (soravideo 3)."""
    credits: int | None = Field(default=None, ge=0)
    """Starting credits per key (soravideo 100000; 100 a video, 200 a pro video)."""
    failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    failure_error: str = "Content policy violation"
    fail_prompts_containing: str | None = Field(default=None, min_length=1)
    """A job whose prompt contains this text fails (deterministic failures for tests)."""
    faults: Faults = Field(default_factory=Faults)

    @model_validator(mode="before")
    @classmethod
    def _provider_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        provider = data.get("provider", "codefast")
        defaults = PROVIDER_DEFAULTS.get(provider) if isinstance(provider, str) else None
        if defaults is None:
            return data  # the Literal check reports the bad provider
        filled = dict(data)
        for name, value in defaults.items():
            if filled.get(name) is None:
                filled[name] = value
        return filled

    @field_validator("service_time")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0.0 <= low <= high:
            raise ValueError("service_time must be (low, high) with 0 <= low <= high")
        return value
