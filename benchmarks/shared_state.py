"""Several uvicorn workers on one key: one worker vs four without sharing vs four sharing
their limits through Redis (``shared_state``). Prints a Markdown table.

The scenario of issue 10: the FastAPI router served by ``uvicorn --workers N`` against the
simulator's soravideo protocol at its published limits (20 requests a minute, 3 tasks at
once, time-scaled), its simulator in a process of its own; 12 concurrent ``POST /videos``.

    .venv/bin/python benchmarks/shared_state.py [--time-scale 0.01] [--posts 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "state"))

import state_support  # (the tests' real servers: Redis, simulator, uvicorn)


def run(workers: int, shared_state: str | None, posts: int, scale: float) -> dict[str, Any]:
    with state_support.simulator_process("soravideo") as sim_url:
        env = {"SIM_URL": sim_url, "SIM_PROVIDER": "soravideo", "SIM_TIME_SCALE": str(scale)}
        env["SORA_SHARED_STATE"] = shared_state or ""
        with state_support.uvicorn_app("multiworker_app:app", workers=workers, env=env) as origin:
            started = time.monotonic()

            def post(n: int) -> int:
                answer = httpx.post(f"{origin}/videos", json={"prompt": f"video {n}"}, timeout=300)
                return answer.status_code

            with ThreadPoolExecutor(posts) as pool:
                statuses = list(pool.map(post, range(posts)))
            accepted = statuses.count(202)
            deadline = time.monotonic() + 600
            while state_support.counters(sim_url)["submits"] < accepted or not all(
                job["status"] in ("completed", "failed") for job in state_support.sim_jobs(sim_url)
            ):
                assert time.monotonic() < deadline, "the jobs never finished"
                time.sleep(0.05)
            makespan = time.monotonic() - started
            seen = state_support.quiet_counters(sim_url, settle=60 * scale)
    return {
        "accepted": accepted,
        "refused": posts - accepted,
        "requests": seen["total"],
        "429s": seen["rate_limited"],
        "max tasks": seen["max_active_tasks"],
        "makespan s": makespan,
        "sim s": makespan / scale,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--posts", type=int, default=12)
    args = parser.parse_args()
    state_support.TIME_SCALE = args.time_scale
    rows: list[tuple[str, dict[str, Any]]] = []
    with state_support.redis_server() as redis:
        for label, workers, shared in (
            ("1 worker", 1, None),
            ("4 workers, no sharing", 4, None),
            ("4 workers, shared_state", 4, redis.url),
        ):
            rows.append((label, run(workers, shared, args.posts, args.time_scale)))
    columns = list(rows[0][1])
    print(
        f"{args.posts} concurrent POST /videos, soravideo at its published limits, "
        f"time scale {args.time_scale:g}\n"
    )
    print("| run | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for label, row in rows:
        cells = [f"{v:.1f}" if isinstance(v, float) else str(v) for v in row.values()]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
