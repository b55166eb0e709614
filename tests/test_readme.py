"""Every code block in the README runs: Python blocks as scripts, and the Quickstart is CI's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def test_quickstart_has_exactly_two_commands() -> None:
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    body = BLOCK.search(section)
    assert body is not None and body.group(1) == "bash"
    lines = [line for line in body.group(2).splitlines() if line.strip()]
    assert len(lines) == 2
    assert "pytest" in lines[1]


@pytest.mark.parametrize("code", blocks("python"), ids=lambda code: code.splitlines()[0][:40])
def test_python_block_runs(code: str, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "SORA_SIMULATE": "1"},
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    "line",
    [
        line
        for body in blocks("bash")
        for line in body.splitlines()
        if line.startswith("sora-async")
    ],
)
def test_cli_block_runs(line: str, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    repo = README.parent
    done = subprocess.run(
        line.replace("examples/", f"{repo}/examples/"),
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
