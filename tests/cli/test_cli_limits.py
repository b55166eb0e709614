"""The batch command's own-limit flags: --rate-limit, --rate-window, --max-tasks, --daily-limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Invoke, one_line_error, read_results, write_prompts

from sora_async.cli._common import EXIT_DAILY_LIMIT

FAST = ["--simulate", "--time-scale", "0.002"]


def test_daily_limit_skips_the_prompts_past_it(invoke: Invoke, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "prompts.txt", 5)
    out = tmp_path / "results.jsonl"
    result = invoke(
        "batch",
        str(prompts),
        *FAST,
        "--provider",
        "openai",
        "--daily-limit",
        "2",
        "--out",
        str(out),
    )
    assert result.exit_code == EXIT_DAILY_LIMIT, result.output
    statuses = [record["status"] for record in read_results(out)]
    assert statuses.count("completed") == 2
    assert statuses.count("skipped") == 3


def test_rate_and_task_limits_are_accepted(invoke: Invoke, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "prompts.txt", 4)
    out = tmp_path / "results.jsonl"
    flags = ["--rate-limit", "50", "--rate-window", "10", "--max-tasks", "1"]
    result = invoke("batch", str(prompts), *FAST, "--provider", "openai", *flags, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert [record["status"] for record in read_results(out)] == ["completed"] * 4


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--rate-limit", "0"], "--rate-limit"),
        (["--rate-window", "5"], "--rate-window"),
        (["--rate-limit", "5", "--rate-window", "-1"], "--rate-window"),
        (["--max-tasks", "0"], "--max-tasks"),
        (["--daily-limit", "-3"], "--daily-limit"),
    ],
)
def test_a_bad_limit_is_a_usage_error_naming_its_flag(
    invoke: Invoke, tmp_path: Path, flags: list[str], named: str
) -> None:
    prompts = write_prompts(tmp_path / "prompts.txt", 2)
    result = invoke("batch", str(prompts), *FAST, *flags)
    assert result.exit_code == 2, result.output
    assert one_line_error(result.stderr).startswith(f"error: {named}:")
