"""Serving a simulator over a real socket with uvicorn (the ``[simulator]`` extra).

uvicorn is imported here only, lazily, so the in-process simulator needs nothing but the
SDK's core dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING

from ._errors import ConnectionDropped

if TYPE_CHECKING:
    import uvicorn

    from ._app import SimulatorApp

HOST = "127.0.0.1"


class ServeError(RuntimeError):
    """The simulator cannot be served: uvicorn is missing, or the port cannot be bound."""


class _DropFilter(logging.Filter):
    """Keep uvicorn from logging our deliberate connection drops as application errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


_DROP_FILTER = _DropFilter()


def make_server(
    app: SimulatorApp, *, access_log: bool = False, log_level: str = "warning"
) -> uvicorn.Server:
    """A uvicorn server for ``app`` on 127.0.0.1 that leaves signal handling to its owner.

    Serve it on a socket from :func:`listen` (``server.serve(sockets=[sock])``): a port that
    cannot be bound is then told before uvicorn starts, not logged from inside it.
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise ServeError(
            "serving the simulator over HTTP needs uvicorn: pip install 'sora-async[simulator]'"
        ) from exc

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # The owner installs handlers (or runs us in a thread): uvicorn must not
            # re-raise the signal after a graceful stop, which would kill the process.
            yield

    # uvicorn writes access lines to stdout; keep stdout for the ready line alone.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config = uvicorn.Config(
        app,
        host=HOST,
        http="h11",
        lifespan="off",
        access_log=access_log,
        log_config=log_config,
        log_level="info" if access_log else log_level,
        timeout_graceful_shutdown=1,
    )
    # After Config(): it (re)configures uvicorn's loggers. Adding the same filter is a no-op.
    logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)
    return Server(config)


def listen(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1 on ``port`` (0 picks a free one), for uvicorn to serve.

    >>> with listen(0) as sock:  # doctest: +SKIP
    ...     sock.getsockname()[1] > 0
    True
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":  # as uvicorn does: a restart need not wait out TIME_WAIT
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
    except (OSError, OverflowError) as exc:  # OverflowError: a port outside 0-65535
        sock.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ServeError(f"cannot listen on {HOST} port {port}: {reason}") from exc
    return sock


def port_of(sock: socket.socket) -> int:
    """The port a bound socket listens on (useful with ``port=0``)."""
    return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: SimulatorApp, *, port: int = 0, timeout: float = 10.0) -> Iterator[int]:
    """Run uvicorn in a daemon thread; yield the bound port; stop it on exit."""
    server = make_server(app)
    failure: list[BaseException] = []
    with listen(port) as sock:

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)

        thread = threading.Thread(target=run, name="sora-simulator", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if failure or not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(timeout)
                raise ServeError("the simulator server did not start") from (
                    failure[0] if failure else None
                )
            time.sleep(0.005)
        try:
            yield port_of(sock)
        finally:
            server.should_exit = True
            thread.join(timeout)


def run_cli(
    app: SimulatorApp, *, port: int, base_path: str, name: str, access_log: bool = False
) -> None:
    """Serve until SIGINT/SIGTERM; print the ready line once connections are accepted.

    Raises :class:`ServeError` (uvicorn missing, the port taken) before serving anything.
    """
    server = make_server(app, access_log=access_log)
    sock = listen(port)

    def stop(signum: int, frame: FrameType | None) -> None:
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)

    async def main() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        # uvicorn has no "started" event to wait on, only a flag.
        while not server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if server.started:
            url = f"http://{HOST}:{port_of(sock)}{base_path}"
            print(f"Simulator ({name}) ready at {url}", flush=True)
        await serving

    with sock:
        asyncio.run(main())
    if not server.started:
        raise ServeError("the simulator server did not start")
