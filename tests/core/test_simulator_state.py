"""The simulator's state file: a killed simulated run resumes in a new process (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from core_support import FAST, PROVIDERS

from sora_async import AsyncSoraClient
from sora_async.simulator import Simulator

pytestmark = pytest.mark.anyio


def client(provider: str, state: Path) -> AsyncSoraClient:
    return AsyncSoraClient.simulated(
        provider=provider, time_scale=FAST, seed=3, state=state, rate_limit=10**6
    )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_jobs_outlive_the_simulator_that_took_them(provider: str, tmp_path: Path) -> None:
    state = tmp_path / "sim.json"
    async with client(provider, state) as first:
        job = await first.submit("a fox")

    async with client(provider, state) as second:  # a new process, as it were
        done = await second.wait(job.id)
        other = await second.submit("a crow")
        assert second.simulator is not None
        assert len(second.simulator.jobs()) == 2

    assert done.status.value == "completed"
    assert other.id != job.id  # the random stream went on: no id is issued twice


async def test_the_state_file_holds_no_key(tmp_path: Path) -> None:
    state = tmp_path / "sim.json"
    async with AsyncSoraClient.simulated(api_key="sk-secret-1234", state=state) as c:
        await c.submit("a fox")
    text = state.read_text("utf-8")
    assert "sk-secret-1234" not in text
    assert json.loads(text)["jobs"][0]["prompt"] == "a fox"


def test_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "sim.json"
    state.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a simulator state file"):
        Simulator(state=state)
