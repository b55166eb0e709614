"""Fixtures for the command line's tests: an in-process runner and real simulator servers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import TIME_SCALE, Invoke, Serve
from typer.testing import CliRunner, Result

from sora_async.cli._app import app
from sora_async.simulator import Simulator


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    """Run ``sora-async`` in-process, in ``tmp_path``, with no key in the environment."""
    monkeypatch.delenv("SORA_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start simulators over HTTP on 127.0.0.1 (uvicorn in a thread); stopped after the test."""
    with ExitStack() as stack:

        def start(**settings: Any) -> tuple[Simulator, str]:
            settings.setdefault("time_scale", TIME_SCALE)
            sim = Simulator(**settings)
            return sim, stack.enter_context(sim.serve_in_thread())

        yield start
