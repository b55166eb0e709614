"""docs/cli.md names only options that exist, and shows the commands it documents."""

from __future__ import annotations

import re
from pathlib import Path

from cli_helpers import Invoke

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
COMMANDS = ("batch", "generate", "status", "list", "quota", "download")


def test_every_option_the_page_names_exists(invoke: Invoke) -> None:
    helps = "".join(invoke(command, "--help").stdout for command in COMMANDS)
    helps += invoke("simulate", "--help").stdout
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", DOC.read_text("utf-8")))
    assert named, "the page names no option"
    missing = sorted(option for option in named if option not in helps)
    assert not missing, missing


def test_the_page_shows_every_command() -> None:
    text = DOC.read_text("utf-8")
    for command in (*COMMANDS, "simulate"):
        assert f"sora-async {command}" in text, command
