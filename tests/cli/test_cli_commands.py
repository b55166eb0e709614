"""Every ``sora-async`` command, in-process (CliRunner), on the simulator."""

from __future__ import annotations

import csv
import json
import socket
import sys
from pathlib import Path

import pytest
from cli_helpers import KEY, Invoke, Serve, read_results, server_args, write_prompts

from sora_async.cli import main
from sora_async.cli._outputs import FIELDS

FAST = ["--simulate", "--time-scale", "0.002"]


def test_batch_simulated_writes_one_record_per_prompt(invoke: Invoke, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# a comment\nfirst prompt\n\n  second prompt  \n# another\nthird\n")
    out, table = tmp_path / "results.jsonl", tmp_path / "results.csv"

    result = invoke("batch", str(prompts), *FAST, "--out", str(out), "--csv", str(table))

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("SIMULATION: embedded codefast simulator")
    assert "summary: 3 prompts: 3 completed, 0 failed, 0 skipped, 0 errors" in result.stdout
    assert "This was a SIMULATION" in result.stdout
    records = read_results(out)
    assert [r["prompt"] for r in records] == ["first prompt", "second prompt", "third"]
    assert [r["index"] for r in records] == [0, 1, 2]
    for record in records:
        assert list(record) == list(FIELDS)
        assert record["created_at"] and record["model"]  # what the provider said
        assert record["status"] == "completed"
        assert record["job_id"] and record["video_url"].endswith(".mp4")
        assert record["path"] is None
    with table.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert sorted(row["job_id"] for row in rows) == sorted(r["job_id"] for r in records)
    # One plain line per finished prompt when not on a terminal.
    assert sum(line.startswith("[") for line in result.stdout.splitlines()) == 3


def test_batch_reads_standard_input(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    result = invoke("batch", "-", *FAST, "--out", str(out), input="from stdin\nand another\n")
    assert result.exit_code == 0, result.output
    assert [r["prompt"] for r in read_results(out)] == ["from stdin", "and another"]


def test_batch_reads_jsonl_and_csv_parameters(invoke: Invoke, tmp_path: Path) -> None:
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "wide", "aspect_ratio": "16:9"}\n\n{"prompt": "tall"}\n')
    table = tmp_path / "p.csv"
    table.write_text("prompt,aspect_ratio\nwide,16:9\ntall,\n")
    for source in (jsonl, table):
        out = tmp_path / f"{source.suffix[1:]}.jsonl"
        # --aspect-ratio fills the rows that leave it out; a row's own value wins.
        result = invoke("batch", str(source), *FAST, "--aspect-ratio", "9:16", "--out", str(out))
        assert result.exit_code == 0, result.output
        assert [r["prompt"] for r in read_results(out)] == ["wide", "tall"]


def test_batch_with_a_failure_exits_1(invoke: Invoke, serve: Serve, tmp_path: Path) -> None:
    _, url = serve(api_key=KEY, fail_prompts_containing="FAIL")
    prompts = tmp_path / "p.txt"
    prompts.write_text("fine\nplease FAIL\n")
    out = tmp_path / "r.jsonl"

    result = invoke("batch", str(prompts), *server_args(url), "--out", str(out))

    assert result.exit_code == 1, result.output
    records = read_results(out)
    assert [r["status"] for r in records] == ["completed", "failed"]
    assert records[1]["error"] and records[1]["job_id"]
    assert "1 completed, 1 failed" in result.stdout
    assert "SIMULATION" not in result.stdout


def test_generate_prints_the_url(invoke: Invoke) -> None:
    result = invoke("generate", "a red fox in the snow", *FAST)
    assert result.exit_code == 0, result.output
    assert "SIMULATION" in result.stderr
    assert result.stdout.splitlines()[0].startswith("submitted job ")
    assert result.stdout.splitlines()[-1].startswith("completed: http://codefast.sim/files/")


def test_generate_failed_job_exits_1(invoke: Invoke, serve: Serve) -> None:
    _, url = serve(api_key=KEY, fail_prompts_containing="FAIL")
    result = invoke("generate", "FAIL please", *server_args(url))
    assert result.exit_code == 1, result.output
    assert "failed: Content policy violation" in result.stdout


def test_status_list_quota_and_download(invoke: Invoke, serve: Serve, tmp_path: Path) -> None:
    _, url = serve(api_key=KEY)
    done = invoke("generate", "a paper boat", *server_args(url))
    assert done.exit_code == 0, done.output
    job_id = done.stdout.split()[2].rstrip(":")

    status = invoke("status", job_id, *server_args(url))
    assert status.exit_code == 0, status.output
    assert f"id: {job_id}" in status.stdout and "status: completed" in status.stdout
    as_json = invoke("status", job_id, *server_args(url), "--json")
    assert json.loads(as_json.stdout)["status"] == "completed"

    listed = invoke("list", *server_args(url))
    assert listed.exit_code == 0 and job_id in listed.stdout
    assert [v["id"] for v in json.loads(invoke("list", *server_args(url), "--json").stdout)] == [
        job_id
    ]

    quota = invoke("quota", *server_args(url))
    assert quota.exit_code == 0, quota.output
    assert quota.stdout.strip() == "19/20 left today"
    assert json.loads(invoke("quota", *server_args(url), "--json").stdout)["daily_remaining"] == 19

    saved = invoke("download", job_id, *server_args(url), "--dest", str(tmp_path / "v"))
    assert saved.exit_code == 0, saved.output
    files = list((tmp_path / "v").iterdir())
    assert [f.name for f in files] == [f"{job_id}.mp4"]
    assert saved.stdout.strip() == f"saved: {files[0]} ({files[0].stat().st_size} bytes)"


def test_status_of_an_unknown_job_exits_1(invoke: Invoke, serve: Serve) -> None:
    _, url = serve(api_key=KEY)
    result = invoke("status", "no-such-job", *server_args(url))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "404" in result.stderr


def test_a_refused_key_exits_2(invoke: Invoke, serve: Serve, tmp_path: Path) -> None:
    _, url = serve(api_key=KEY)
    prompts = write_prompts(tmp_path / "p.txt", 2)
    result = invoke("batch", str(prompts), *server_args(url, key="sk-wrong"))
    assert result.exit_code == 2
    assert "the API key was refused" in result.stderr
    assert invoke("quota", *server_args(url, key="sk-wrong")).exit_code == 2


def test_quota_on_the_simulator(invoke: Invoke) -> None:
    result = invoke("quota", *FAST, "--provider", "soravideo")
    assert result.exit_code == 0, result.output
    assert "credits" in result.stdout


def test_simulate_forwards_to_the_simulator_command(invoke: Invoke) -> None:
    result = invoke("simulate", "--help")
    assert result.exit_code == 0
    for option in ("--provider", "--port", "--time-scale", "--daily-limit", "--failure-rate"):
        assert option in result.stdout
    assert invoke("simulate", "--provider", "nope").exit_code == 2


def test_help_lists_every_command(invoke: Invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("batch", "generate", "status", "list", "quota", "download", "simulate"):
        assert command in result.stdout


def test_without_the_extra_main_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "typer", None)  # makes "import typer" fail
    monkeypatch.delitem(sys.modules, "sora_async.cli._app")
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert 'pip install "sora-async[cli]"' in capsys.readouterr().err


def test_the_quickstart_line_runs_on_the_example_prompts(invoke: Invoke, tmp_path: Path) -> None:
    # README: sora-async batch examples/prompts.txt --simulate --out results.jsonl
    example = Path(__file__).resolve().parents[2] / "examples" / "prompts.txt"
    result = invoke("batch", str(example), *FAST, "--out", "results.jsonl")
    assert result.exit_code == 0, result.output
    records = read_results(tmp_path / "results.jsonl")
    assert len(records) == 8 and {r["status"] for r in records} == {"completed"}
    # A simulation keeps its own journal next to --out, and its simulator's state beside it.
    assert sorted(path.name for path in tmp_path.glob("results.*")) == [
        "results.jsonl",
        "results.simulated.journal.sqlite",
        "results.simulated.journal.sqlite.simulator.json",
    ]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--time-scale", "-1"], "argument --time-scale: input should be greater than 0"),
        (["--time-scale", "nan"], "argument --time-scale: input should be a finite number"),
        (["--port", "99999"], "argument --port: must be a whole number from 0 to 65535"),
        (["--port", "-1"], "argument --port: must be a whole number from 0 to 65535"),
        (["--workers", "0"], "argument --workers: must be a whole number from 1 to 10000"),
        (["--workers", str(10**17)], "argument --workers: must be a whole number from 1 to"),
        (["--daily-limit", "-1"], "argument --daily-limit: input should be greater than or"),
        (["--failure-rate", "2"], "argument --failure-rate: input should be less than or"),
        (["--api-key", ""], "argument --api-key: string should have at least 1 character"),
        (["--provider", "acme"], "argument --provider: invalid choice: 'acme'"),
    ],
)
def test_simulate_refuses_bad_options_in_one_line(
    invoke: Invoke, options: list[str], error: str
) -> None:
    result = invoke("simulate", *options)
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"sora-async simulate: error: {error}"), line


def test_simulate_on_a_port_in_use_is_one_line(invoke: Invoke) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = invoke("simulate", "--port", str(port))

    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"sora-async simulate: error: cannot listen on 127.0.0.1 port {port}: "
        "Address already in use\n"
    )
