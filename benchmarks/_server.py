"""Processes the orchestrator starts: the simulator server, and the measured clients.

The simulator runs as a real uvicorn server in its own process
(``python -m sora_async.simulator``, port 0, 127.0.0.1); each measured client runs in
another (``_client.py``), so the client's CPU and memory are its own.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
import psutil

__all__ = ["FakeServer", "SimServer", "SocketSampler", "run_client"]

HERE = Path(__file__).resolve().parent
_READY = "ready at "


class SimServer:
    """``python -m sora_async.simulator`` in a subprocess, stopped on exit."""

    def __init__(
        self,
        *,
        provider: str,
        time_scale: float,
        workers: int | None = None,
        daily_limit: int | None = None,
        seed: int = 0,
        start_timeout: float = 20.0,
    ) -> None:
        self.command = [sys.executable, "-m", "sora_async.simulator", "--provider", provider]
        self.command += ["--port", "0", "--time-scale", str(time_scale), "--seed", str(seed)]
        if workers is not None:
            self.command += ["--workers", str(workers)]
        if daily_limit is not None:
            self.command += ["--daily-limit", str(daily_limit)]
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[str] | None = None
        # The server's stderr, kept for the error message if it fails to start; it lives as
        # long as the server, so no `with` block can hold it.
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.url = ""

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``, where the ``/_sim/`` admin routes are."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    def __enter__(self) -> Self:
        self._process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        self.url = self._wait_ready(self._process)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # the simulator stops gracefully on SIGTERM
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._log.close()

    def _wait_ready(self, process: subprocess.Popen[str]) -> str:
        """The base URL from the ``Simulator (P) ready at URL`` line."""
        assert process.stdout is not None
        deadline = time.monotonic() + self._start_timeout
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([process.stdout], [], [], left)
            if not readable:
                break
            line = process.stdout.readline()
            if not line:
                break  # the process ended
            if _READY in line:
                return line.split(_READY, 1)[1].strip()
        raise RuntimeError(f"the simulator did not start: {self._stderr()}")

    def _stderr(self) -> str:
        self._log.seek(0)
        return self._log.read()[-2000:]

    def counters(self) -> dict[str, Any]:
        """``GET /_sim/counters``: requests by route, responses by status, and so on."""
        return dict(httpx.get(f"{self.origin}/_sim/counters", timeout=30).json())

    def jobs(self) -> list[dict[str, Any]]:
        """``GET /_sim/jobs``: every job with real unix submitted/started/finished times."""
        return list(httpx.get(f"{self.origin}/_sim/jobs", timeout=60).json())


class FakeServer(SimServer):
    """``benchmarks/_fake.py``: the independent fake (none of the SDK's code) in a subprocess."""

    def __init__(
        self,
        *,
        provider: str,
        time_scale: float,
        workers: int,
        service: tuple[float, float],
        history: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__(provider=provider, time_scale=time_scale, seed=seed)
        self.command = [sys.executable, str(HERE / "_fake.py"), "--provider", provider]
        self.command += ["--time-scale", str(time_scale), "--workers", str(workers)]
        self.command += ["--service", *map(str, service), "--history", str(history)]
        self.command += ["--seed", str(seed)]


class SocketSampler(threading.Thread):
    """Samples, from outside, a process's TCP sockets to one server port.

    A cross-check of the in-process count (``_measure.py``): sampling can miss a socket that
    lives shorter than the period, but it cannot be fooled by our own patch.
    """

    def __init__(self, pid: int, port: int, period: float = 0.1) -> None:
        super().__init__(daemon=True)
        self._process = psutil.Process(pid)
        self._port = port
        self._period = period
        self._halt = threading.Event()
        self.seen: set[int] = set()  # local ports: one per distinct socket
        self.peak = 0

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                sockets = self._process.net_connections(kind="tcp")
            except psutil.Error:
                return  # the process has ended
            ours = [s.laddr.port for s in sockets if s.raddr and s.raddr.port == self._port]
            self.seen.update(ours)
            self.peak = max(self.peak, len(ours))
            self._halt.wait(self._period)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_client(
    kind: str, server: SimServer, *, provider: str, n: int, time_scale: float, deadline: float
) -> dict[str, Any]:
    """Run one measured client (``sdk`` or ``baseline``) to the end; its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, str(HERE / "_client.py"), kind, "--provider", provider]
        command += ["--url", server.url, "--n", str(n), "--time-scale", str(time_scale)]
        command += ["--deadline", str(deadline), "--out", str(out)]
        process = subprocess.Popen(command)
        sampler = SocketSampler(process.pid, server.port)
        sampler.start()
        try:
            # The client stops itself at its deadline (a watchdog thread as the last resort);
            # this margin only covers start-up and exit.
            code = process.wait(timeout=deadline + 60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            sampler.stop()
        if code != 0 or not out.exists():
            raise RuntimeError(f"the {kind} client exited with status {code} and no result")
        data: dict[str, Any] = json.loads(out.read_text())
    data["sampled_sockets"] = len(sampler.seen)
    data["sampled_peak_sockets"] = sampler.peak
    return data
