"""A real PostgreSQL for the journal tests: pgserver's wheel starts one (as root too), a
fresh database per test (a plain module: tests/state is on sys.path)."""

from __future__ import annotations

import contextlib
import signal
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pgserver
import psutil
import psycopg


class Postgres:
    """One PostgreSQL server; :meth:`database` makes a fresh database on it."""

    def __init__(self) -> None:
        # A short path: its unix socket lives in this folder (a 108-byte limit).
        self.pgdata = tempfile.mkdtemp(prefix="sora-pg-", dir="/tmp")
        self._server: Any = pgserver.get_server(self.pgdata, cleanup_mode="delete")

    def database(self) -> str:
        """A new, empty database; its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._server.get_uri(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        url: str = self._server.get_uri(name)
        return url

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend: the server is gone, mid-statement."""
        master = psutil.Process(self._server.get_pid())
        for process in [*master.children(recursive=True), master]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs([master], timeout=10)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a killed server cannot be stopped cleanly
            self._server.cleanup()


@contextmanager
def postgres_server() -> Iterator[Postgres]:
    server = Postgres()
    try:
        yield server
    finally:
        server.close()
