"""The command line's rough edges (issue 12, item 4): each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Invoke, one_line_error, read_results, write_prompts

FAST = ["--simulate", "--time-scale", "0.002"]


def test_a_30_prompt_trial_fits_a_raised_simulated_daily_limit(
    invoke: Invoke, tmp_path: Path
) -> None:
    prompts = write_prompts(tmp_path / "p.txt", 30)
    result = invoke(
        "batch", str(prompts), *FAST, "--sim-setting", "daily-limit=30", "--out", "r.jsonl"
    )
    assert result.exit_code == 0, result.output
    records = read_results(tmp_path / "r.jsonl")
    assert [r["status"] for r in records] == ["completed"] * 30


def test_sim_settings_reach_the_simulator(invoke: Invoke, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.txt", 3)
    result = invoke(
        "batch",
        str(prompts),
        *FAST,
        "--sim-setting",
        "fail-prompts-containing=number 1",
        "--sim-setting",
        "daily_limit=2",
        "--out",
        "r.jsonl",
    )
    assert result.exit_code == 3, result.output  # the third prompt met the daily limit
    statuses = [r["status"] for r in read_results(tmp_path / "r.jsonl")]
    assert statuses == ["completed", "failed", "skipped"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--sim-setting", "daily-limit=many"], "error: --sim-setting daily-limit=many: input "),
        (["--sim-setting", "colour=red"], "error: --sim-setting colour=red: expected NAME=VALUE"),
        (["--sim-setting", "daily-limit"], "error: --sim-setting daily-limit: expected NAME="),
        (["--sim-setting", "failure-rate=2"], "error: --sim-setting failure-rate=2: input should"),
        (["--sim-setting", "pickup-delay=inf"], "error: --sim-setting pickup-delay: must be a fin"),
        (["--sim-setting", "service-time=1,inf"], "error: --sim-setting service-time: must be"),
        (["--sim-setting", "service-time=9,1"], "error: --sim-setting service-time=9,1: service-"),
    ],
)
def test_bad_sim_settings_are_one_line(
    invoke: Invoke, tmp_path: Path, options: list[str], error: str
) -> None:
    prompts = write_prompts(tmp_path / "p.txt", 1)
    result = invoke("batch", str(prompts), *FAST, *options)
    assert result.exit_code == 2
    assert one_line_error(result.stderr).startswith(error)


def test_sim_settings_need_simulate(invoke: Invoke, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.txt", 1)
    result = invoke("batch", str(prompts), "--api-key", "k", "--sim-setting", "daily-limit=3")
    assert result.exit_code == 2
    assert "add --simulate" in one_line_error(result.stderr)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (
            ["--poll-interval", "10", "--max-poll-interval", "1"],
            "error: --max-poll-interval 1 is shorter than --poll-interval 10",
        ),
        (["--poll-interval", "60"], "error: --max-poll-interval (default 30) is shorter than"),
        (["--poll-interval", "0"], "error: --poll-interval must be a number of seconds greater"),
    ],
)
def test_contradicting_poll_intervals_are_refused(
    invoke: Invoke, tmp_path: Path, options: list[str], error: str
) -> None:
    prompts = write_prompts(tmp_path / "p.txt", 1)
    result = invoke("batch", str(prompts), "--api-key", "k", *options)
    assert result.exit_code == 2
    assert one_line_error(result.stderr).startswith(error)


@pytest.mark.parametrize("command", ["batch", "generate"])
def test_errors_name_cli_flags_not_python_arguments(
    invoke: Invoke, tmp_path: Path, command: str
) -> None:
    argument = str(write_prompts(tmp_path / "p.txt", 1)) if command == "batch" else "a fox"
    result = invoke(command, argument, *FAST, "--provider", "soravideo", "--quality", "high")
    assert result.exit_code == 2
    banner, _, rest = result.stderr.partition("SIMULATION: ")
    line = one_line_error(banner + rest.partition("\n")[2])
    assert "--quality" in line and "--model sora-2-pro" in line, line
    assert "pro=True" not in line and "model=" not in line, line


def test_the_flag_the_error_names_works(invoke: Invoke, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.txt", 1)
    result = invoke(
        "batch", str(prompts), *FAST, "--provider", "soravideo", "--quality", "high",
        "--model", "sora-2-pro", "--duration", "10",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["batch"], "error: Missing argument 'PROMPT_FILE'; see 'sora-async batch --help'"),
        (["batch", "p.txt", "--bogus"], "error: No such option: --bogus"),
        (["batch", "p.txt", "--concurrency", "0"], "error: Invalid value for '--concurrency'"),
        (["nope"], "error: No such command 'nope'; see 'sora-async --help'"),
    ],
)
def test_usage_errors_are_one_line(invoke: Invoke, args: list[str], error: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert one_line_error(result.stderr).startswith(error)
    assert "╭" not in result.output and "Usage:" not in result.output


@pytest.mark.parametrize("command", ["batch", "generate", "status", "download", "report"])
def test_help_reads_plainly_at_80_columns(invoke: Invoke, command: str) -> None:
    result = invoke(command, "--help", env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0
    text = result.stdout
    assert "<bool>" not in text and "{" not in text.splitlines()[0], text
    assert max(len(line) for line in text.splitlines()) <= 80
    if command != "report":
        assert "<codefast|soravideo|openai>" in text  # never broken inside a word


def test_simulate_help_names_this_command(invoke: Invoke) -> None:
    for args in (["simulate", "--help"], ["--help"]):
        result = invoke(*args)
        assert result.exit_code == 0
        assert "python -m" not in result.stdout, result.stdout
    assert invoke("simulate", "--help").stdout.startswith("usage: sora-async simulate")


def test_one_prompt_is_said_in_the_singular(invoke: Invoke, tmp_path: Path) -> None:
    prompts = write_prompts(tmp_path / "p.txt", 1)
    result = invoke("batch", str(prompts), *FAST)
    assert result.exit_code == 0, result.output
    assert "batch: 1 prompt\n" in result.stdout
    assert "summary: 1 prompt: 1 completed" in result.stdout
    assert "1 prompts" not in result.stdout


def test_generate_says_kept_for_a_file_it_did_not_write(invoke: Invoke, tmp_path: Path) -> None:
    # The seeded simulator gives the same job id again: its file is there from the first run.
    first = invoke("generate", "a fox", *FAST, "--download", "out/")
    assert first.exit_code == 0, first.output
    [saved] = [line for line in first.stdout.splitlines() if line.startswith("saved: ")]
    again = invoke("generate", "a fox", *FAST, "--download", "out/")
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[-1] == saved.replace("saved: ", "kept: ")
