"""Durable runs: SIGKILL and re-run, the daily limit and the next day, unknown submits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from cli_helpers import (
    KEY,
    Invoke,
    Serve,
    read_results,
    server_args,
    wait_for,
    write_prompts,
)

from sora_async.testing import ManualClock

PROMPTS = 12


def sim_counters(url: str) -> dict[str, object]:
    """The served simulator's counters, asked over HTTP like any outside observer would."""
    counters: dict[str, object] = httpx.get(f"{url}/_sim/counters", timeout=5).json()
    return counters


def results_lines(path: Path) -> int:
    try:
        return len(path.read_text("utf-8").splitlines())
    except FileNotFoundError:
        return 0


def test_sigkill_mid_batch_then_rerun_submits_each_prompt_once(
    serve: Serve, tmp_path: Path
) -> None:
    # Time moves only when the test says: four workers, 60-second jobs (0.6 at this scale).
    clock = ManualClock()
    sim, url = serve(api_key=KEY, time_scale=0.01, clock=clock, service_time=(60.0, 60.0))
    prompts = write_prompts(tmp_path / "prompts.txt", PROMPTS)
    out = tmp_path / "results.jsonl"
    command = [
        sys.executable, "-m", "sora_async.cli", "batch", str(prompts), *server_args(url),
        "--out", str(out),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SORA_API_KEY"}

    first = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # Watched in this process (the server's thread): a poll over HTTP would compete with it.
    wait_for(lambda: sim.counters.submits == PROMPTS, first)
    clock.advance(0.62)  # the first four jobs end; four more are running, four queued
    wait_for(lambda: results_lines(out) == 4, first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    assert first.returncode == -signal.SIGKILL
    finished_before = {r["index"]: r["job_id"] for r in read_results(out)}
    assert len(finished_before) == 4
    clock.advance(10)  # everything left ends

    second = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )

    assert second.returncode == 0, second.stdout + second.stderr
    assert sim_counters(url)["submits"] == PROMPTS  # nothing was submitted twice
    records = read_results(out)
    assert [r["index"] for r in records] == list(range(PROMPTS))
    assert all(r["status"] == "completed" and r["video_url"] for r in records)
    assert len({r["job_id"] for r in records}) == PROMPTS
    for index, job_id in finished_before.items():
        assert records[index]["job_id"] == job_id
    assert f"summary: {PROMPTS} prompts: {PROMPTS} completed" in second.stdout
    assert (tmp_path / "results.journal.sqlite").exists()


def test_the_daily_limit_skips_then_the_next_day_submits_only_those(
    invoke: Invoke, serve: Serve, tmp_path: Path
) -> None:
    sim, url = serve(api_key=KEY, daily_limit=3)
    write_prompts(tmp_path / "p.txt", 5)
    command = ["batch", "p.txt", *server_args(url), "--out", "r.jsonl"]

    stopped = invoke(*command)

    assert stopped.exit_code == 3, stopped.output
    records = read_results(tmp_path / "r.jsonl")
    assert sorted(r["status"] for r in records) == ["completed"] * 3 + ["skipped"] * 2
    assert "3 completed, 0 failed, 2 skipped" in stopped.stdout
    assert "the daily limit is spent; it resets 20" in stopped.stdout
    assert all(r["reset_at"] for r in records if r["status"] == "skipped")

    sim.reset_day()  # the next day
    again = invoke(*command)

    assert again.exit_code == 0, again.output
    assert sim.counters.submits == 5
    assert [r["status"] for r in read_results(tmp_path / "r.jsonl")] == ["completed"] * 5


def test_an_unknown_submit_is_reported_and_resent_only_when_asked(
    invoke: Invoke, serve: Serve, tmp_path: Path
) -> None:
    # soravideo keeps no list of jobs: nothing can settle the doubt but the user.
    sim, url = serve(api_key=KEY, provider="soravideo", rate_limit=10**6)
    sim.inject("drop_after_accept", route="submit")  # the server takes it; the answer is lost
    write_prompts(tmp_path / "p.txt", 3)
    command = ["batch", "p.txt", *server_args(url), "--provider", "soravideo", "--out", "r.jsonl"]

    first = invoke(*command)

    assert first.exit_code == 1, first.output
    assert "1 submit has an unknown outcome and was not resent" in first.stdout
    unknown = [r for r in read_results(tmp_path / "r.jsonl") if r["status"] == "error"]
    assert len(unknown) == 1 and "outcome unknown" in unknown[0]["error"]
    assert sim.counters.submits == 3

    again = invoke(*command)
    assert again.exit_code == 1
    assert "1 submit has an unknown outcome" in again.stdout
    assert "soravideo keeps no list of jobs" in again.stdout
    assert "--resubmit-unknown" in again.stdout and "sora-async list" not in again.stdout
    assert sim.counters.submits == 3  # not resent

    resent = invoke(*command, "--resubmit-unknown")
    assert resent.exit_code == 0, resent.output
    assert sim.counters.submits == 4
    assert [r["status"] for r in read_results(tmp_path / "r.jsonl")] == ["completed"] * 3


def test_an_edited_file_submits_only_what_changed(
    invoke: Invoke, serve: Serve, tmp_path: Path
) -> None:
    sim, url = serve(api_key=KEY)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a fox\na crow\na cat\n")
    command = ["batch", "p.txt", *server_args(url), "--out", "r.jsonl"]
    assert invoke(*command).exit_code == 0
    before = {r["prompt"]: r["job_id"] for r in read_results(tmp_path / "r.jsonl")}

    # A new line on top moves every prompt down; "a crow" is edited.
    prompts.write_text("a new first line\na fox\na raven\na cat\n")
    again = invoke(*command)

    assert again.exit_code == 0, again.output
    assert sim.counters.submits == 5  # 3, then only the new line and the edited one
    after = {r["prompt"]: r["job_id"] for r in read_results(tmp_path / "r.jsonl")}
    assert after["a fox"] == before["a fox"] and after["a cat"] == before["a cat"]
    assert "2 prompts had moved in the file since an earlier run" in again.stdout
    assert "1 prompt of an earlier run matches no prompt now (edited or removed), e.g. " in (
        again.stdout
    )
    assert f"prompt 1 'a crow' (job {before['a crow']})" in again.stdout
