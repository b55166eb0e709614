"""Fixtures for the command line's tests: an in-process runner and real simulator servers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cli_helpers import TIME_SCALE, Invoke, Serve
from typer.testing import CliRunner, Result

from sora_async.cli._app import app
from sora_async.simulator import Simulator
from sora_async.simulator._server import HOST, serve_in_thread


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Invoke:
    """Run ``sora-async`` in-process, in ``tmp_path``, with no key in the environment."""
    monkeypatch.delenv("SORA_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return run


class Mounts:
    """An ASGI app: each simulator at a path of its own (``/sim1``, ``/sim2``...), as a proxy
    would mount it (the ASGI ``root_path``: the simulator's URLs back at itself keep it)."""

    def __init__(self) -> None:
        self.apps: dict[str, Any] = {}
        self._names = (f"sim{n}" for n in itertools.count(1))

    def mount(self, sim: Simulator) -> str:
        name = next(self._names)
        self.apps[name] = sim.app
        return name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        name = scope["path"].split("/")[1]
        target = self.apps.get(name)
        if target is None:  # a simulator of a test that has ended
            body = json.dumps({"detail": "no simulator here"}).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        root = scope.get("root_path", "") + f"/{name}"
        await target({**scope, "root_path": root}, receive, send)


@pytest.fixture(scope="session")
def _simulator_host() -> Iterator[tuple[Mounts, int]]:
    """One uvicorn server on 127.0.0.1 for the session (per xdist worker), serving every
    test's simulators: starting and stopping one per test took a quarter of a second."""
    mounts = Mounts()
    with serve_in_thread(mounts, port=0) as port:  # type: ignore[arg-type]  (any ASGI app)
        yield mounts, port


@pytest.fixture
def serve(_simulator_host: tuple[Mounts, int]) -> Iterator[Serve]:
    """Start simulators over HTTP on 127.0.0.1, each a fresh one at its own URL; a test's
    simulators stop answering (404) when it ends."""
    mounts, port = _simulator_host
    with ExitStack() as stack:

        def start(**settings: Any) -> tuple[Simulator, str]:
            settings.setdefault("time_scale", TIME_SCALE)
            sim = Simulator(**settings)
            name = mounts.mount(sim)
            stack.callback(mounts.apps.pop, name)
            return sim, f"http://{HOST}:{port}/{name}{urlsplit(sim.base_url).path}"

        yield start
