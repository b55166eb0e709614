"""A real PostgreSQL for the journal tests: pgserver's wheel starts one (as root too), a
fresh schema per test (a plain module: tests/state is on sys.path)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pgserver
import psutil
import psycopg

PROMPTS = 60
#: Seconds a worker's claims outlive it (SORA_JOURNAL_LEASE): short, for the takeovers.
LEASE = 2.5


class Postgres:
    """One PostgreSQL server; :meth:`database` makes a fresh database on it."""

    def __init__(self) -> None:
        # A short path: its unix socket lives in this folder (a 108-byte limit).
        self.pgdata = tempfile.mkdtemp(prefix="sora-pg-", dir="/tmp")
        # Stopped by close(): killed, its folder deleted (nothing to write back first).
        self._server: Any = pgserver.get_server(self.pgdata, cleanup_mode=None)
        # A throwaway server: no statement waits for the disk (no test restarts it to read
        # what it kept), so that the workers' every commit is not an fsync.
        with psycopg.connect(self._server.get_uri(), autocommit=True) as db:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                db.execute(f"ALTER SYSTEM SET {setting} = off")
            db.execute("SELECT pg_reload_conf()")

    def database(self) -> str:
        """A new, empty schema of the server's one database: a journal's URL (a batch per
        schema, as the journal's text says; a schema is far cheaper than a database)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._server.get_uri(), autocommit=True) as db:
            db.execute(f"CREATE SCHEMA {name}")
        url: str = self._server.get_uri()
        return f"{url}&options=-csearch_path%3D{name}"

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend: the server is gone, mid-statement."""
        try:
            master = psutil.Process(self._server.get_pid())
        except psutil.NoSuchProcess:
            return  # killed already
        processes = [*master.children(recursive=True), master]
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        # Dead once each is gone or a zombie (its sockets closed): not reaped by us, the
        # postmaster (pg_ctl's daemon) waits for init to reap it.
        deadline = time.monotonic() + 10
        while not all(map(_dead, processes)):
            assert time.monotonic() < deadline, "PostgreSQL outlived SIGKILL"
            time.sleep(0.01)

    def close(self) -> None:
        self.kill()
        self._server.cleanup()  # pgserver's own records of it only (cleanup_mode=None)
        shutil.rmtree(self.pgdata, ignore_errors=True)


def _dead(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@dataclass
class Worker:
    name: str
    out: Path
    process: subprocess.Popen[str]
    started: float

    def lines(self) -> list[dict[str, Any]]:
        text = self.out.read_text() if self.out.exists() else ""
        return [json.loads(line) for line in text.splitlines()]


def prompt_file(folder: Path, count: int = PROMPTS) -> Path:
    path = folder / "prompts.txt"
    path.write_text("".join(f"shared prompt {i}\n" for i in range(count)))
    return path


@contextmanager
def workers(
    count: int,
    *,
    sim_url: str,
    journal: str,
    shared_state: str | None,
    folder: Path,
    prompts: int = PROMPTS,
    lease: float = LEASE,
    provider: str = "openai",
) -> Iterator[list[Worker]]:
    """``count`` ``sora-async batch`` processes on one prompt file and one journal (a
    PostgreSQL URL, or a SQLite path for one)."""
    path = prompt_file(folder, prompts)
    started = []
    with ExitStack() as stack:
        for n in range(count):
            out = folder / f"worker{n}.jsonl"
            command = [sys.executable, "-m", "sora_async.cli", "batch", str(path)]
            command += ["--provider", provider, "--base-url", sim_url, "--api-key", "sk-one"]
            command += ["--poll-interval", "0.05", "--max-poll-interval", "0.2"]
            command += ["--journal", journal, "--out", str(out)]
            command += ["--shared-state", shared_state] if shared_state else []
            process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "SORA_JOURNAL_LEASE": str(lease)},
            )
            stack.callback(_stop, process)
            started.append(Worker(f"worker{n}", out, process, time.monotonic()))
        yield started


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(10)


def finish(worker: Worker, limit: float = 120) -> tuple[int, str, float]:
    _, stderr = worker.process.communicate(timeout=limit)
    return worker.process.returncode, stderr, time.monotonic() - worker.started


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    server = Postgres()
    try:
        yield server
    finally:
        server.close()
