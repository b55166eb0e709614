"""Real processes on one key: uvicorn workers and separate batch runs, sharing a real Redis;
the simulator runs as its own server process, so its counters see every worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager as ContextManager
from contextlib import ExitStack
from typing import Any

import batch_worker
import httpx
from state_support import (
    HERE,
    TIME_SCALE,
    RedisServer,
    counters,
    quiet_counters,
    sim_jobs,
    simulator_and_app,
    simulator_process,
)

#: The single-worker run's request count that issue 10 measured (12 videos, soravideo).
ISSUE_SINGLE_WORKER = 49


def post_twelve(origin: str) -> list[int]:
    def post(n: int) -> int:
        answer = client.post(f"{origin}/videos", json={"prompt": f"video {n}"})
        return answer.status_code

    # A connection per request (none kept): the kernel spreads them over the workers.
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(timeout=120, limits=no_keepalive) as client, ThreadPoolExecutor(12) as pool:
        return list(pool.map(post, range(12)))


def wait_all_completed(sim_url: str, count: int) -> None:
    deadline = time.monotonic() + 120
    while counters(sim_url)["submits"] < count or not _all_done(sim_url):
        assert time.monotonic() < deadline, "the jobs never finished"
        time.sleep(0.1)


def _all_done(sim_url: str) -> bool:
    return all(job["status"] in ("completed", "failed", "succeeded") for job in sim_jobs(sim_url))


def serve(workers: int, shared_state: str | None) -> ContextManager[tuple[str, str]]:
    """A simulator of its own and ``uvicorn --workers N`` on it."""
    env = {"SIM_PROVIDER": "soravideo", "SIM_TIME_SCALE": str(TIME_SCALE)}
    env |= {"SORA_SHARED_STATE": shared_state or ""}
    return simulator_and_app("soravideo", "multiworker_app:app", workers=workers, env=env)


def post(sim_url: str, origin: str) -> tuple[list[int], dict[str, Any]]:
    statuses = post_twelve(origin)
    wait_all_completed(sim_url, statuses.count(202))
    # Every worker sees its last jobs end, then the simulator goes quiet.
    return statuses, quiet_counters(sim_url, settle=60 * TIME_SCALE)


def test_four_uvicorn_workers_share_one_keys_limits(redis: RedisServer) -> None:
    with ExitStack() as stack:
        # The single worker's run (the baseline) goes while the four workers start, each app
        # on a simulator of its own (each counts its own app's requests); the four workers'
        # run goes alone.
        with ThreadPoolExecutor(1) as pool:
            starting = pool.submit(stack.enter_context, serve(4, redis.url))
            single, alone = post(*stack.enter_context(serve(1, None)))
            shared_run = starting.result()
        statuses, shared = post(*shared_run)
    assert single == [202] * 12
    assert statuses == [202] * 12
    assert shared["rate_limited"] == 0
    assert shared["max_active_tasks"] <= 3
    assert shared["submits"] == 12
    # Issue 10: within 1.2x of the single-worker run, which it measured at 49 requests.
    # One worker has since learned to spend fewer (31 to 37 here, its scheduler times the
    # looks of all 12 jobs); four workers each time only their own and spend 40 to 51.
    # Without sharing: 96, 59 of them refused with 429.
    single_worker = max(alone["total"], ISSUE_SINGLE_WORKER)
    assert shared["total"] <= 1.2 * single_worker, (shared["total"], alone["total"])


def test_two_processes_spend_a_daily_limit_of_25_exactly(redis: RedisServer) -> None:
    scale = ("--time-scale", str(batch_worker.SCALE))
    with simulator_process("codefast", "--daily-limit", "25", *scale) as sim_url:
        worker = [sys.executable, str(HERE / "batch_worker.py"), sim_url, redis.url]
        runs = [subprocess.Popen([*worker, "a", "20"], stdout=subprocess.PIPE, text=True)]
        runs.append(subprocess.Popen([*worker, "b", "20"], stdout=subprocess.PIPE, text=True))
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        seen = counters(sim_url)
    lines = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    assert all(run.returncode == 0 for run in runs)
    assert sum(line["completed"] for line in lines) == 25
    assert sum(line["skipped"] for line in lines) == 15
    assert seen["submits"] == 25
    assert seen["rate_limited"] == 0
