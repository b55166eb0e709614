"""The API key appears in no output, no results file, no journal and no file name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_helpers import Invoke, Serve, one_line_error, server_args, write_prompts
from typer.testing import CliRunner

from sora_async.cli._app import app

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


# -- a server that echoes the key it was sent in every error ----------------------------------


class _EchoHandler(BaseHTTPRequestHandler):
    """codefast's shape: ``GET /`` says running (unless refusing every key); all else fails.

    Each error body repeats the credential headers it received, in every provider's field.
    """

    server: _EchoServer

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command == "GET" and self.path == "/" and self.server.status != 401:
            status, body = 200, {"status": "running", "message": "Video Generator API"}
        else:
            heard = f"{self.headers.get('X-API-Key')} {self.headers.get('Authorization')}"
            text = f"not accepted from {heard}"
            body = {"detail": text, "error": {"message": text}, "msg": text}
            status = self.server.status
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output quiet


class _EchoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, status: int) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.status = status


@dataclass
class EchoRun:
    """What every command printed and wrote against the echoing server."""

    exit_codes: dict[str, int]
    stderr: dict[str, str]
    stdout: dict[str, str]
    folder: Path


# (name, status the server answers errors with, arguments); 400 and 404 are not retried.
_ECHO_COMMANDS = [
    ("batch", 400, ["batch", "prompts.txt", "--out", "r.jsonl", "--csv", "r.csv",
                    "--journal", "j.sqlite", "--download", "videos"]),
    ("generate", 400, ["generate", "a fox"]),
    ("status", 404, ["status", "some-job"]),
    ("list", 400, ["list"]),
    ("quota", 400, ["quota"]),
    ("download", 404, ["download", "some-job", "--dest", "videos"]),
    ("refused batch", 401, ["batch", "prompts.txt", "--out", "refused.jsonl"]),
    ("refused quota", 401, ["quota"]),
]  # fmt: skip


@pytest.fixture(scope="module")
def echo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoRun]:
    folder = tmp_path_factory.mktemp("echo")
    write_prompts(folder / "prompts.txt", 2)
    runner = CliRunner()
    run = EchoRun({}, {}, {}, folder)
    cwd = Path.cwd()
    os.chdir(folder)
    with _EchoServer(400) as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            for name, status, args in _ECHO_COMMANDS:
                server.status = status
                result = runner.invoke(
                    app, [*args, *server_args(url, CANARY)], env={"SORA_API_KEY": None}
                )
                run.exit_codes[name] = result.exit_code
                run.stdout[name], run.stderr[name] = result.stdout, result.stderr
            yield run
        finally:
            os.chdir(cwd)
            server.shutdown()
            thread.join()


def test_errors_from_an_echoing_server_are_one_line(echo_run: EchoRun) -> None:
    assert echo_run.exit_codes == {
        "batch": 1, "generate": 1, "status": 1, "list": 1, "quota": 1, "download": 1,
        "refused batch": 2, "refused quota": 2,
    }  # fmt: skip
    for name, stderr in echo_run.stderr.items():
        if name != "batch":  # a batch reports each prompt's error in its results
            one_line_error(stderr)
    records = [json.loads(line) for line in (echo_run.folder / "r.jsonl").read_text().splitlines()]
    assert [record["status"] for record in records] == ["error", "error"]
    assert all("not accepted from" in record["error"] for record in records)
    assert "not accepted from" in echo_run.stderr["quota"]  # the server's words are shown


def test_a_key_the_server_echoes_is_in_no_output_or_file(echo_run: EchoRun) -> None:
    assert_nowhere([*echo_run.stdout.values(), *echo_run.stderr.values()], echo_run.folder)
