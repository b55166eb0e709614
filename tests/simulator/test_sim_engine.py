"""The engine: queue positions, progress, limits, determinism and scale (fake clock)."""

from __future__ import annotations

import time

import pytest

from sora_async.simulator._engine import Engine, key_hash
from sora_async.simulator._errors import Limit, Limited
from sora_async.simulator._formats import (
    codefast_time,
    go_duration,
    iso_time,
    seconds_header,
    seconds_value,
    unix_header,
)
from sora_async.simulator._settings import SimulatorSettings

KEY = key_hash("sk_test")
WALL0 = 1_700_000_000.0


def engine(clock, **fields) -> Engine:
    return Engine(SimulatorSettings(**fields), clock=clock, wall=lambda: WALL0)


def submit(eng: Engine, key: str = KEY, prompt: str = "a cat", cost: int = 100):
    return eng.submit(key, prompt=prompt, cost=cost, seconds=10.0, width=1280, height=720)


def test_fifo_queue_positions_and_progress(clock) -> None:
    eng = engine(clock, workers=2, service_time=(10.0, 10.0), daily_limit=100)
    jobs = [submit(eng) for _ in range(5)]
    states = [eng.state(job) for job in jobs]
    assert [s.phase for s in states] == ["queued"] * 5
    assert [s.queue_position for s in states] == [1, 2, 3, 4, 5]
    assert {s.queue_size for s in states} == {5}

    clock.t = 1.0  # the pickup delay has passed: two workers take the first two jobs
    states = [eng.state(job) for job in jobs]
    assert [s.phase for s in states] == ["processing"] * 2 + ["queued"] * 3
    assert [s.queue_position for s in states] == [0, 0, 1, 2, 3]
    assert states[2].queue_size == 3

    clock.t = 6.0
    assert eng.state(jobs[0]).progress == 50

    clock.t = 11.0
    states = [eng.state(job) for job in jobs]
    assert [s.phase for s in states] == ["completed"] * 2 + ["processing"] * 2 + ["queued"]
    assert states[4].queue_position == 1
    assert states[0].progress == 100

    clock.t = 31.0
    assert {eng.state(job).phase for job in jobs} == {"completed"}
    starts = [job.start for job in jobs]
    assert starts == sorted(starts)


def test_records_use_real_timestamps(clock) -> None:
    eng = engine(clock, service_time=(10.0, 10.0))
    job = submit(eng)
    record = eng.records()[0]
    assert (record.id, record.status, record.prompt) == (job.id, "queued", "a cat")
    assert record.submitted_at == WALL0
    assert record.started_at is None
    assert record.finished_at is None
    assert record.key_hash == KEY != "sk_test"
    clock.t = 20.0
    record = eng.records()[0]
    assert record.status == "completed"
    assert record.started_at == WALL0 + 1.0
    assert record.finished_at == WALL0 + 11.0
    assert record.failed is False


def test_time_scale_multiplies_durations(clock) -> None:
    eng = engine(clock, time_scale=0.01, service_time=(60.0, 60.0))
    job = submit(eng)
    assert job.start == pytest.approx(0.01)
    assert job.finish - job.start == pytest.approx(0.6)


def test_failures_are_decided_by_rate_and_marker(clock) -> None:
    eng = engine(clock, fail_prompts_containing="FAIL", service_time=(1.0, 1.0))
    good, bad = submit(eng, prompt="fine"), submit(eng, prompt="please FAIL")
    clock.t = 5.0
    assert eng.state(good).phase == "completed"
    assert eng.state(bad).phase == "failed"
    assert bad.error == "Content policy violation"
    all_fail = engine(clock, failure_rate=1.0, failure_error="boom")
    job = submit(all_fail)
    clock.t = 500.0
    assert all_fail.state(job).phase == "failed"
    assert all_fail.records()[0].failed is True
    assert job.error == "boom"


def test_seed_makes_runs_repeatable(clock) -> None:
    def run(seed: int) -> list[tuple[str, float, bool]]:
        eng = engine(clock, seed=seed, failure_rate=0.5, daily_limit=100)
        return [(j.id, j.finish, j.failed) for j in (submit(eng) for _ in range(20))]

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert {failed for _, _, failed in run(7)} == {True, False}


def test_rolling_window(clock) -> None:
    eng = engine(clock, provider="soravideo", rate_limit=3)
    for t in (0.0, 1.0, 2.0):
        clock.t = t
        eng.admit(KEY)
    clock.t = 3.0
    with pytest.raises(Limited) as caught:
        eng.admit(KEY)
    assert caught.value.limit is Limit.RATE
    assert caught.value.retry_after == pytest.approx(57.0)
    state = eng.rate_state(KEY)
    assert state is not None
    assert (state.limit, state.remaining) == (3, 0)
    assert state.reset_at == pytest.approx(WALL0 + 60.0)
    clock.t = 60.0  # the first request has left the window; rejected ones never counted
    eng.admit(KEY)
    assert eng.rate_state(KEY).remaining == 0  # type: ignore[union-attr]
    assert eng.rate_state(None).remaining == 3  # type: ignore[union-attr]


def test_rolling_window_is_scaled(clock) -> None:
    eng = engine(clock, provider="soravideo", rate_limit=1, time_scale=0.01)
    eng.admit(KEY)
    with pytest.raises(Limited) as caught:
        eng.admit(KEY)
    assert caught.value.retry_after == pytest.approx(0.6)
    clock.t = 0.61
    eng.admit(KEY)


def test_daily_limit_counts_submits_on_codefast(clock) -> None:
    eng = engine(clock, daily_limit=2, time_scale=0.01)
    submit(eng)
    submit(eng)
    assert eng.daily(KEY) == (2, 0)
    with pytest.raises(Limited) as caught:
        submit(eng)
    assert caught.value.limit is Limit.DAILY
    assert submit(eng, key=key_hash("other key"))  # quotas are per key
    eng.reset_day()
    assert eng.daily(KEY) == (2, 2)
    submit(eng)
    submit(eng)
    clock.t = 864.0  # one scaled day later the quota is back
    assert eng.daily(KEY) == (2, 2)
    assert eng.daily_reset_at() == pytest.approx(WALL0 + 2 * 864.0)


def test_daily_limit_counts_requests_on_soravideo(clock) -> None:
    eng = engine(clock, provider="soravideo", daily_limit=2, rate_limit=100)
    eng.admit(KEY)
    eng.admit(KEY)
    with pytest.raises(Limited) as caught:
        eng.admit(KEY)
    assert caught.value.limit is Limit.DAILY


def test_real_days_end_at_midnight_utc() -> None:
    eng = Engine(SimulatorSettings())
    reset = eng.daily_reset_at()
    assert reset % 86_400 == 0
    assert 0 < reset - time.time() <= 86_400


def test_concurrent_limit(clock) -> None:
    eng = engine(clock, provider="soravideo", service_time=(10.0, 10.0))
    for _ in range(3):
        submit(eng)
    assert eng.active(KEY) == 3
    with pytest.raises(Limited) as caught:
        submit(eng)
    assert caught.value.limit is Limit.CONCURRENT
    clock.t = 11.0
    assert eng.active(KEY) == 0
    submit(eng)


def test_credits(clock) -> None:
    eng = engine(clock, provider="soravideo", credits=250, concurrent_limit=10)
    submit(eng)
    submit(eng)
    assert eng.credits(KEY) == 50
    with pytest.raises(Limited) as caught:
        submit(eng)
    assert caught.value.limit is Limit.CREDITS
    assert engine(clock, provider="openai").credits(KEY) is None


def test_ten_thousand_jobs_stay_fast(clock) -> None:
    eng = engine(clock, provider="openai", service_time=(30.0, 90.0))
    began = time.perf_counter()
    jobs = [submit(eng) for _ in range(10_000)]
    clock.t = 500.0
    states = [eng.state(job) for job in jobs]
    records = eng.records()
    assert time.perf_counter() - began < 2.0
    queued = [s for s in states if s.phase == "queued"]
    assert queued
    assert [s.queue_position for s in queued] == list(range(1, len(queued) + 1))
    assert {s.queue_size for s in queued} == {len(queued)}
    assert len(records) == 10_000


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (0.02, "20ms"),
        (0.0001, "1ms"),
        (1.0, "1s"),
        (1.5, "1.5s"),
        (360.0, "6m0s"),
        (3723.0, "1h2m3s"),
    ],
)
def test_go_durations(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "integral", "value"),
    [(0.02, False, 0.02), (0.0001, False, 0.001), (57.2, True, 58), (0.2, True, 1)],
)
def test_wait_values(seconds: float, integral: bool, value: float) -> None:
    assert seconds_value(seconds, integral=integral) == value
    assert seconds_header(seconds, integral=integral) == str(value)


def test_wire_timestamps() -> None:
    assert codefast_time(None) == ""
    assert codefast_time(1758337678.0) == "20.09.2025 03:07:58"
    assert iso_time(1758337678.25) == "2025-09-20T03:07:58.250Z"
    assert unix_header(1758337678.0004, integral=False) == "1758337678.000"
    assert unix_header(1758337678.2, integral=True) == "1758337679"
