"""Helpers shared by the command line's tests (a plain module: tests/cli is on sys.path)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import Result

from sora_async.simulator import Simulator

TIME_SCALE = 0.002
KEY = "sk-test-key"

Serve = Callable[..., tuple[Simulator, str]]  # start a served simulator: (sim, base URL)
Invoke = Callable[..., Result]  # run sora-async in-process


def server_args(url: str, key: str = KEY) -> list[str]:
    """The options that point a command at a served simulator."""
    # A short longest gap too: codefast's list never shows a failed job, only its status does.
    return [
        "--base-url", url, "--api-key", key, "--poll-interval", "0.01", "--max-poll-interval", "0.2"
    ]  # fmt: skip


def write_prompts(path: Path, count: int, prefix: str = "prompt") -> Path:
    """A .txt file of ``count`` distinct prompts."""
    path.write_text("".join(f"{prefix} number {i}\n" for i in range(count)), "utf-8")
    return path


def read_results(path: Path) -> list[dict[str, Any]]:
    """The records of a results file, in prompt order."""
    records = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    return sorted(records, key=lambda record: record["index"])


def one_line_error(stderr: str) -> str:
    """The one error line a refused command printed (a traceback, or more lines, fail)."""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    """Until ``condition()`` holds; fail if ``process`` ends first or after 30 s."""
    deadline = time.monotonic() + 30
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)
