"""``sora-async batch --shared-state URL``: CLI processes on one key share its limits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from state_support import RedisServer, counters, simulator_process
from typer.testing import CliRunner

from sora_async.cli._app import app


def test_a_bad_shared_state_is_a_usage_error(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("one\n")
    args = ["batch", str(prompts), "--simulate", "--shared-state", "http://cache:6379"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --shared-state: must be None or a redis://")


def test_two_cli_workers_share_a_daily_limit(redis: RedisServer, tmp_path: Path) -> None:
    with simulator_process("openai", "--time-scale", "0.002") as sim_url:
        runs = []
        for name in ("a", "b"):
            prompts = tmp_path / f"{name}.txt"
            prompts.write_text("".join(f"{name} prompt {i}\n" for i in range(3)))
            command = [sys.executable, "-m", "sora_async.cli", "batch", str(prompts)]
            command += ["--provider", "openai", "--base-url", sim_url, "--api-key", "sk-one"]
            command += ["--poll-interval", "0.05", "--max-poll-interval", "0.2"]
            command += ["--daily-limit", "3", "--shared-state", redis.url]
            command += ["--out", str(tmp_path / f"{name}.jsonl")]
            runs.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        codes = [run.wait(120) for run in runs]
        seen = counters(sim_url)
    records = [
        json.loads(line)
        for name in ("a", "b")
        for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()
    ]
    statuses = [record["status"] for record in records]
    assert statuses.count("completed") == 3
    assert statuses.count("skipped") == 3
    assert seen["submits"] == 3
    assert all(code in (0, 3) for code in codes)
