"""Stopping a run (issue 9): SIGTERM and Ctrl-C end it cleanly with nothing in doubt; a
killed --simulate run resumes for real; a journal is kept by default next to --out."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cli_helpers import (
    KEY,
    TIME_SCALE,
    Invoke,
    Serve,
    read_results,
    server_args,
    wait_for,
    write_prompts,
)

from sora_async.testing import ManualClock

PROMPTS = 12
# Two seeded SIGKILLs of an 8-prompt run, against a server in its own process, at the
# time scale of the other command line tests.
MATRIX = [
    "--providers", "openai", "codefast", "--kills", "1", "--terms", "0", "--prompts", "8",
    "--seed", "4", "--time-scale", str(TIME_SCALE),
]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def in_doubt(journal: Path) -> int:
    with sqlite3.connect(journal) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM prompts WHERE state IN ('intent', 'unknown')"
        ).fetchone()
    return int(count)


def submits(url: str) -> int:
    return int(httpx.get(f"{url}/_sim/counters", timeout=5).json()["submits"])


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SORA_API_KEY"}


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_cleanly_with_nothing_in_doubt(
    serve: Serve, tmp_path: Path, signum: int, code: int
) -> None:
    # The clock stands still: every job stays queued, the run is stopped mid-way.
    clock = ManualClock()
    sim, url = serve(api_key=KEY, time_scale=0.01, clock=clock, daily_limit=100)
    write_prompts(tmp_path / "p.txt", PROMPTS)
    command = [
        sys.executable, "-m", "sora_async.cli", "batch", "p.txt", *server_args(url),
        "--out", "r.jsonl",
    ]  # fmt: skip
    first = subprocess.Popen(
        command, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # Watched in this process (the server's thread): a poll over HTTP would compete with it.
    wait_for(lambda: sim.counters.submits >= 5, first)
    first.send_signal(signum)
    _, stderr = first.communicate(timeout=30)

    assert first.returncode == code, stderr
    assert stderr.decode().strip().endswith("interrupted: run the same command again to go on")
    assert in_doubt(tmp_path / "r.journal.sqlite") == 0  # every submit sent was answered
    sent = submits(url)
    assert sent < PROMPTS  # it stopped submitting

    again = subprocess.Popen(
        command, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_for(lambda: sim.counters.submits == PROMPTS, again)
    clock.advance(100)  # every job ends
    stdout, stderr = again.communicate(timeout=60)
    assert again.returncode == 0, stdout + stderr
    assert submits(url) == PROMPTS  # each prompt once
    records = read_results(tmp_path / "r.jsonl")
    assert len({r["job_id"] for r in records if r["status"] == "completed"}) == PROMPTS


def test_a_killed_simulated_run_resumes(tmp_path: Path) -> None:
    write_prompts(tmp_path / "p.txt", PROMPTS)
    command = [
        sys.executable, "-m", "sora_async.cli", "batch", "p.txt", "--simulate",
        "--time-scale", "0.01", "--out", "r.jsonl",
    ]  # fmt: skip
    state = tmp_path / "r.simulated.journal.sqlite.simulator.json"

    def taken() -> int:
        try:
            return len(json.loads(state.read_text("utf-8"))["jobs"])
        except (FileNotFoundError, ValueError):
            return 0

    first = subprocess.Popen(
        command, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    wait_for(lambda: taken() >= 6, first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)

    again = subprocess.run(
        command, cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=60
    )

    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{PROMPTS} prompts: {PROMPTS} completed, 0 failed, 0 skipped, 0 errors" in again.stdout
    server = {job["id"] for job in json.loads(state.read_text("utf-8"))["jobs"]}
    results = {r["job_id"] for r in read_results(tmp_path / "r.jsonl")}
    assert results == server  # nothing lost, nothing sent twice


def test_no_journal_keeps_none_and_journal_with_no_journal_is_refused(
    invoke: Invoke, serve: Serve, tmp_path: Path
) -> None:
    _, url = serve(api_key=KEY)
    write_prompts(tmp_path / "p.txt", 2)
    kept = invoke("batch", "p.txt", *server_args(url), "--out", "r.jsonl", "--no-journal")
    assert kept.exit_code == 0, kept.output
    assert not list(tmp_path.glob("*.sqlite"))
    assert "journal: in memory (not kept)" in kept.stdout

    both = invoke("batch", "p.txt", *server_args(url), "--journal", "j.sqlite", "--no-journal")
    assert both.exit_code == 2
    assert "--journal or --no-journal, not both" in both.output


def test_the_kill_matrix_in_small(tmp_path: Path) -> None:
    """SIGKILL against a real server in its own process, seeded: benchmarks/kill_matrix.py."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "kill_matrix.py"), *MATRIX],
        capture_output=True,
        text=True,
        timeout=240,
        env=env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok") == 2
