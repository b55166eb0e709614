"""SimulatorSettings, Faults and the Simulator's construction."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

import sora_async.simulator as simulator
from sora_async.simulator import Faults, Simulator, SimulatorSettings


def test_public_names_are_sorted_and_importable() -> None:
    assert simulator.__all__ == sorted(simulator.__all__)
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("codefast", (4, 20, None, None, None)),
        ("soravideo", (64, 500, 20, 3, 100_000)),
        ("openai", (8, None, None, None, None)),
    ],
)
def test_provider_defaults(provider: str, expected: tuple[object, ...]) -> None:
    settings = SimulatorSettings(provider=provider)
    got = (
        settings.workers,
        settings.daily_limit,
        settings.rate_limit,
        settings.concurrent_limit,
        settings.credits,
    )
    assert got == expected
    assert settings.rate_window == 60.0
    assert settings.service_time == (30.0, 90.0)


def test_explicit_values_win_over_defaults() -> None:
    settings = SimulatorSettings(provider="soravideo", rate_limit=5, workers=2, daily_limit=0)
    assert (settings.rate_limit, settings.workers, settings.daily_limit) == (5, 2, 0)


@pytest.mark.parametrize(
    "bad",
    [
        {"time_scale": 0},
        {"time_scale": -1.0},
        {"service_time": (10.0, 5.0)},
        {"provider": "veo"},
        {"workers": 0},
        {"failure_rate": 1.5},
        {"no_such_field": 1},
        {"fail_prompts_containing": ""},
    ],
)
def test_bad_settings_are_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SimulatorSettings(**bad)


def test_settings_are_frozen_but_faults_are_mutable_and_validated() -> None:
    sim = Simulator(provider="codefast")
    with pytest.raises(ValidationError):
        sim.settings.time_scale = 2.0  # type: ignore[misc]
    sim.faults.error_rate = 0.5
    assert sim.settings.faults.error_rate == 0.5
    with pytest.raises(ValidationError):
        sim.faults.error_rate = 2.0
    with pytest.raises(ValidationError):
        sim.faults.routes = {"status", "nope"}
    sim.faults.routes = {"status"}
    assert Faults().model_dump()["routes"] is None


def test_api_key_stays_out_of_reprs() -> None:
    settings = SimulatorSettings(api_key="sk_very_secret")
    assert "sk_very_secret" not in repr(settings)
    assert "sk_very_secret" not in repr(Simulator(settings=settings))


def test_settings_and_fields_are_exclusive() -> None:
    with pytest.raises(TypeError, match="either"):
        Simulator(settings=SimulatorSettings(), seed=3)
    sim = Simulator(settings=SimulatorSettings(provider="openai", seed=3))
    assert sim.settings.seed == 3


@pytest.mark.parametrize(
    ("provider", "url"),
    [
        ("codefast", "http://codefast.sim"),
        ("soravideo", "http://soravideo.sim/api/v1"),
        ("openai", "http://openai.sim/v1"),
    ],
)
def test_base_urls(provider: str, url: str) -> None:
    assert Simulator(provider=provider).base_url == url


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("provider", "headers", "path"),
    [
        ("codefast", {"X-API-Key": "k"}, "/status/x"),
        ("soravideo", {"Authorization": "Bearer k"}, "/tasks/x"),
        ("openai", {"Authorization": "Bearer k"}, "/videos/x"),
    ],
)
async def test_routes_live_under_the_provider_prefix(
    provider: str, headers: dict[str, str], path: str
) -> None:
    sim = Simulator(provider=provider)
    origin = f"http://{provider}.sim"
    async with httpx.AsyncClient(transport=sim.transport(), headers=headers) as http:
        below = await http.get(f"{sim.base_url}{path}")
        other_prefixes = [
            await http.get(f"{origin}{prefix}{path}")
            for prefix in ("", "/api/v1", "/v1")
            if f"{origin}{prefix}" != sim.base_url
        ]
    assert below.status_code == 404  # the route exists: an unknown job, not an unknown path
    assert sim.counters.requests == {"status": 1}
    assert [answer.status_code for answer in other_prefixes] == [404, 404]
    assert sim.counters.total == 3
