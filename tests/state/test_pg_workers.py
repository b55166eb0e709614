"""Several ``sora-async batch --journal postgresql://...`` workers (real processes) share one
prompt file: one submit per prompt across all of them, every line in every worker's --out;
a worker SIGKILLed is taken over; the journal's server killed stops them cleanly."""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from pg_support import PROMPTS, Postgres, finish, postgres_server, prompt_file, workers
from state_support import RedisServer, counters, http, sim_jobs, simulator_process
from typer.testing import CliRunner

from sora_async.cli._app import app

SEED = int(os.environ.get("SORA_TEST_SEED", "20261202"))


def wait_for(condition: Any, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "the condition never came"
        time.sleep(0.02)


def submitted_prompts(sim_url: str) -> Counter[str]:
    return Counter(str(job["prompt"]) for job in sim_jobs(sim_url))


def assert_every_line(
    lines: Sequence[dict[str, Any]], count: int = PROMPTS
) -> dict[int, dict[str, Any]]:
    by_index = {line["index"]: line for line in lines}
    assert len(lines) == count and sorted(by_index) == list(range(count))
    return by_index


def test_three_workers_share_one_prompt_file(
    redis: RedisServer, pg_url: str, tmp_path: Path
) -> None:
    # At the simulator's default pace: with jobs five times quicker, one worker could end
    # the whole file before the others had started on a loaded machine.
    with simulator_process("openai") as sim_url:
        with workers(
            3, sim_url=sim_url, journal=pg_url, shared_state=redis.url, folder=tmp_path
        ) as run:
            results = [finish(worker) for worker in run]
        seen = counters(sim_url)
        prompts = submitted_prompts(sim_url)
    for code, stderr, _ in results:
        assert code == 0, stderr
    assert seen["submits"] == PROMPTS
    assert set(prompts.values()) == {1} and len(prompts) == PROMPTS
    with psycopg.connect(pg_url) as db:
        owners = db.execute("SELECT count(DISTINCT owner) FROM sora_prompts").fetchone()
        stored = str(db.execute("SELECT * FROM sora_prompts, sora_meta").fetchall())
    assert owners is not None and owners[0] >= 2  # the work was shared
    assert "sk-one" not in stored  # the API key is never stored
    lines = [assert_every_line(worker.lines()) for worker in run]
    # Every worker wrote the same job for every prompt, submitted once.
    for index in range(PROMPTS):
        assert len({by_index[index]["job_id"] for by_index in lines}) == 1
    print(
        f"\n3 workers, {PROMPTS} prompts: {seen['submits']} submits, "
        f"{max(t for *_, t in results):.1f} s"
    )


def in_flight(db: psycopg.Connection[Any], pid: int) -> list[str]:
    """This worker's submits on the wire: intents with no job id yet."""
    rows = db.execute(
        "SELECT p.prompt FROM sora_prompts p JOIN sora_workers w ON w.id = p.owner "
        "WHERE w.pid = %s AND p.state = 'intent'",
        (pid,),
    ).fetchall()
    return [row[0] for row in rows]


def joined(db: psycopg.Connection[Any]) -> int:
    """How many workers have opened the journal."""
    try:
        row = db.execute("SELECT count(*) FROM sora_workers").fetchone()
    except psycopg.errors.UndefinedTable:
        return 0
    return int(row[0]) if row else 0


@pytest.mark.parametrize(
    ("provider", "count", "scale"), [("openai", PROMPTS, "0.004"), ("soravideo", 18, "0.004")]
)
def test_a_worker_killed_is_taken_over(
    provider: str, count: int, scale: str, redis: RedisServer, pg_url: str, tmp_path: Path
) -> None:
    """openai lists its videos with their prompts: the dead worker's submits on the wire are
    adopted. soravideo keeps no list: they are reported in doubt, never resent (and its 3
    tasks at once make it slow: fewer prompts). Every submit takes half a real second; the
    jobs' simulated time is fast (a count this small may leave worker0 nothing to hold)."""
    at = random.Random(SEED).randint(3, count // 2)  # the submit count to kill at
    with simulator_process(provider, "--time-scale", scale) as sim_url:
        # Every submit slow (half a second on the wire): the worker is killed with one out,
        # whose answer it never reads (the server makes the video all the same).
        inject = httpx.URL(sim_url).copy_with(path="/_sim/inject")
        slow = {"kind": "slow", "route": "submit", "times": count, "seconds": 0.5 / float(scale)}
        http().post(inject, json=slow).raise_for_status()
        with workers(
            3,
            sim_url=sim_url,
            journal=pg_url,
            shared_state=redis.url,
            folder=tmp_path,
            provider=provider,
            prompts=count,
        ) as run:
            wait_for(lambda: counters(sim_url)["submits"] >= at)
            # One connection for the looks (not a server process forked for each).
            with psycopg.connect(pg_url, autocommit=True) as db:
                wait_for(lambda: in_flight(db, run[0].process.pid))
                run[0].process.kill()
                run[0].process.wait(10)
                doubted = in_flight(db, run[0].process.pid)
            results = [finish(worker) for worker in run[1:]]
        seen = counters(sim_url)
        prompts = submitted_prompts(sim_url)
    lines = [assert_every_line(worker.lines(), count) for worker in run[1:]]
    in_doubt = {i for by_index in lines for i, line in by_index.items() if _in_doubt(line)}
    for code, stderr, _ in results:
        assert code == (1 if in_doubt else 0), stderr
    # Submitted once, but for the submits in doubt the survivors reported (not resent).
    assert count - len(in_doubt) <= seen["submits"] <= count
    assert all(times == 1 for times in prompts.values())
    assert doubted and all(prompts[prompt] <= 1 for prompt in doubted)
    reported = {f"shared prompt {index}" for index in in_doubt}
    assert reported == (set() if provider == "openai" else set(doubted))
    jobs = [line["job_id"] for line in lines[0].values() if line["job_id"]]
    assert len(jobs) == len(set(jobs))
    print(
        f"\n{provider}: killed at {at} submits, {len(doubted)} on the wire: "
        f"{seen['submits']} submits, "
        f"{len(in_doubt)} in doubt, "
        f"{max(t for *_, t in results):.1f} s"
    )


def _in_doubt(line: dict[str, Any]) -> bool:
    return "outcome unknown" in str(line.get("error"))


def test_the_journal_server_killed_mid_run(redis: RedisServer, tmp_path: Path) -> None:
    with ExitStack() as stack:
        with ThreadPoolExecutor(1) as pool:  # a server of its own, started as the simulator
            starting = pool.submit(stack.enter_context, postgres_server())
            sim_url = stack.enter_context(simulator_process("openai"))
            postgres = starting.result()
        journal = postgres.database()
        with workers(
            3, sim_url=sim_url, journal=journal, shared_state=redis.url, folder=tmp_path
        ) as run:
            with psycopg.connect(journal, autocommit=True) as db:  # one for every look
                wait_for(lambda: joined(db) == 3)  # every worker is in the run
            wait_for(lambda: counters(sim_url)["submits"] >= 10)
            postgres.kill()
            results = [finish(worker) for worker in run]
        prompts = submitted_prompts(sim_url)
    for code, stderr, _ in results:
        assert code == 2, stderr
        # One line says it all: no traceback, no driver's noise.
        assert stderr.startswith("error: the PostgreSQL journal postgresql://"), stderr
        assert stderr.count("\n") == 1, stderr
    assert all(count == 1 for count in prompts.values())  # no duplicate submit
    assert len(prompts) < PROMPTS
    print(f"\njournal killed: {len(prompts)} submits, once each; {results[0][1].strip()}")


def test_an_unreachable_journal_is_a_usage_error(tmp_path: Path) -> None:
    # In this process (the workers above run the same command as processes of their own).
    args = ["batch", str(prompt_file(tmp_path)), "--simulate"]
    args += ["--journal", "postgresql://me:secret@127.0.0.1:1/none"]
    done = CliRunner().invoke(app, args, catch_exceptions=False)
    assert done.exit_code == 2
    assert done.stderr.startswith(
        "error: cannot reach the PostgreSQL journal postgresql://me@127.0.0.1:1/none: "
    )
    assert "secret" not in done.stderr + done.stdout


@pytest.fixture(autouse=True)
def _one_postgres(postgres: Postgres) -> None:
    """The session's server is started before the clock of any test here starts."""
