"""The API key appears in no output, no results file, no journal and no file name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cli_helpers import Invoke, Serve, server_args, write_prompts

CANARY = "sk-SECRET-canary-123"


def assert_nowhere(texts: list[str], folder: Path) -> None:
    for text in texts:
        assert CANARY not in text
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert any(path.suffix == ".sqlite" for path in files)  # the journal was searched too
    for path in files:
        assert CANARY.encode() not in path.read_bytes(), path
        assert CANARY not in str(path)


def test_the_key_is_in_no_output_file_or_journal(serve: Serve, tmp_path: Path) -> None:
    sim, url = serve(api_key=CANARY, fail_prompts_containing="FAIL")
    write_prompts(tmp_path / "prompts.txt", 3)
    with (tmp_path / "prompts.txt").open("a") as file:
        file.write("this one will FAIL\n")
    env = {k: v for k, v in os.environ.items() if k != "SORA_API_KEY"}
    command = [
        sys.executable, "-m", "sora_async.cli", "batch", "prompts.txt", *server_args(url, CANARY),
        "--out", "results.jsonl", "--csv", "results.csv", "--download", "videos",
    ]  # fmt: skip

    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    assert run.returncode == 1, run.stdout + run.stderr  # one failure, and its error is printed
    assert sim.counters.submits == 4
    assert (tmp_path / "results.journal.sqlite").exists()
    assert_nowhere([run.stdout, run.stderr], tmp_path)


def test_the_key_from_the_environment_is_never_echoed(
    invoke: Invoke, serve: Serve, tmp_path: Path
) -> None:
    _, url = serve(api_key=CANARY)
    env = {"SORA_API_KEY": CANARY}
    base = server_args(url, CANARY)
    base = base[:2] + base[4:]  # without --api-key: it comes from SORA_API_KEY
    outputs = []
    done = invoke("generate", "a boat", *base, env=env)
    assert done.exit_code == 0, done.output
    job_id = done.stdout.split()[2].rstrip(":")
    for args in (
        ["status", job_id],
        ["list"],
        ["quota"],
        ["download", job_id, "--dest", "v/"],
        ["batch", "-", "--out", "r.jsonl"],
        ["batch", "--help"],
        ["generate", "--help"],
    ):
        result = invoke(*args, *base, env=env, input="one prompt\n")
        assert result.exit_code == 0, result.output
        outputs += [done.output, result.output]
    # A refused key is not echoed either.
    refused = invoke("quota", "--base-url", url, "--api-key", CANARY + "-wrong")
    assert refused.exit_code == 2
    assert_nowhere([*outputs, refused.output], tmp_path)
