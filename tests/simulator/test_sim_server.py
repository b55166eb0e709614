"""Serving over a real socket: serve_in_thread and ``python -m sora_async.simulator``."""

from __future__ import annotations

import os
import re
import runpy
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from sora_async.simulator import Simulator

AUTH = {"Authorization": "Bearer sk_live"}


def test_serve_in_thread_end_to_end() -> None:
    sim = Simulator(provider="soravideo", time_scale=0.002, rate_limit=10_000)
    with sim.serve_in_thread() as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1", url)
        with httpx.Client(base_url=url, headers=AUTH, timeout=5) as http:
            created = http.post("/sora2/text-to-video", json={"prompt": "a cat"}).json()
            task_id = created["data"]["task_id"]
            for _ in range(2000):
                task = http.get(f"/tasks/{task_id}").json()["data"]
                if task["status"] == "completed":
                    break
                time.sleep(0.002)
            assert task["status"] == "completed"
            origin = url.removesuffix("/api/v1")
            assert task["video_url"] == f"{origin}/files/{task_id}.mp4"
            video = httpx.get(task["video_url"])
            counters = httpx.get(f"{origin}/_sim/counters").json()
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    assert counters["requests"]["submit"] == 1
    with pytest.raises(httpx.ConnectError):  # stopped on exit
        httpx.get(url + "/credits", headers=AUTH)


def test_network_faults_over_a_socket() -> None:
    sim = Simulator(provider="codefast")
    sim.inject("drop_after_accept")
    sim.inject("timeout", route="status")
    with (
        sim.serve_in_thread() as url,
        httpx.Client(base_url=url, headers={"X-API-Key": "k"}, timeout=5) as http,
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/generate", json={"prompt": "x"})
        (job,) = sim.jobs()
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"/status/{job.id}", timeout=0.1)
        assert http.get(f"/status/{job.id}").json()["status"] == "queued"
        began = time.monotonic()
    assert time.monotonic() - began < 5  # the hung request did not keep the server up
    assert sim.counters.dropped == 1


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sora_async.simulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _ready_url(process: subprocess.Popen[str], provider: str) -> str:
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], 20)
    assert readable, "the simulator printed nothing"
    line = process.stdout.readline()
    match = re.fullmatch(rf"Simulator \({provider}\) ready at (http://127\.0\.0\.1:\d+\S*)\n", line)
    assert match, line
    return match.group(1)


@pytest.mark.parametrize(
    ("provider", "stop", "prefix"),
    [("soravideo", signal.SIGTERM, "/api/v1"), ("codefast", signal.SIGINT, "")],
)
def test_module_entry_point(provider: str, stop: signal.Signals, prefix: str) -> None:
    process = _start(
        "--provider", provider, "--time-scale", "0.01", "--api-key", "sk_secret_42", "--seed", "3"
    )
    try:
        url = _ready_url(process, provider)
        assert url.endswith(f"{prefix}") and re.search(r":\d+" + re.escape(prefix) + "$", url)
        if provider == "soravideo":
            answer = httpx.get(f"{url}/credits", headers={"Authorization": "Bearer sk_secret_42"})
            assert answer.json() == {"code": 200, "msg": "success", "data": {"credits": 100000}}
            wrong = httpx.get(f"{url}/credits", headers={"Authorization": "Bearer nope"})
            assert wrong.json()["code"] == 1001
        else:
            answer = httpx.get(f"{url}/", headers={"X-API-Key": "sk_secret_42"})
            assert answer.json()["status"] == "running"
        process.send_signal(stop)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "sk_secret_42" not in out + err
    assert out == ""  # nothing after the ready line


@dataclass(frozen=True)
class Ran:
    returncode: object
    stdout: str
    stderr: str


@pytest.fixture
def run_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Ran]:
    """``python -m sora_async.simulator ARGS`` run to its end (each case here ends before
    anything listens), in this process: the same ``__main__`` through runpy, without the
    second a new interpreter takes to import sora_async. The real
    process, its signals and its ready line: :func:`test_module_entry_point`."""

    def run(*args: str, block_uvicorn: bool = False) -> Ran:
        # Making uvicorn unimportable (None in sys.modules) stands for an install without it.
        if block_uvicorn:
            monkeypatch.setitem(sys.modules, "uvicorn", None)
        monkeypatch.setattr(sys, "argv", ["sora_async.simulator", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            runpy.run_module("sora_async.simulator", run_name="__main__", alter_sys=True)
        out, err = capsys.readouterr()
        return Ran(exited.value.code, out, err)

    return run


def test_without_uvicorn_it_names_the_extra_in_one_line(run_module: Callable[..., Ran]) -> None:
    run = run_module("--port", "0", block_uvicorn=True)
    assert run.returncode == 2, run.stderr
    assert run.stderr == (
        "python -m sora_async.simulator: error: serving the simulator over HTTP needs "
        "uvicorn: pip install 'sora-async[simulator]'\n"
    )
    assert run.stdout == ""


def test_a_port_in_use_is_one_line_without_a_traceback(run_module: Callable[..., Ran]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        run = run_module("--port", str(port))

    assert run.returncode == 2, run.stderr
    assert run.stderr == (
        f"python -m sora_async.simulator: error: cannot listen on 127.0.0.1 port {port}: "
        "Address already in use\n"
    )


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--time-scale", "-1"], "argument --time-scale: input should be greater than 0"),
        (["--port", "99999"], "argument --port: must be a whole number from 0 to 65535"),
    ],
)
def test_bad_options_are_one_line_without_a_traceback(
    options: list[str], error: str, run_module: Callable[..., Ran]
) -> None:
    run = run_module(*options)
    assert run.returncode == 2, run.stderr
    [line] = run.stderr.splitlines()
    assert line.startswith(f"python -m sora_async.simulator: error: {error}"), run.stderr


def test_serve_in_thread_reports_a_port_in_use() -> None:
    from sora_async.simulator._server import ServeError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(ServeError, match=f"port {port}: Address already in use"),
            Simulator().serve_in_thread(port=port),
        ):
            pass  # pragma: no cover - never reached
