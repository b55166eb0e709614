"""Test your own code against the simulator: no key, no network, faults and limits on demand.

A client on an in-process simulator (asyncio or trio)::

    from sora_async.testing import simulated_client

    async def test_storyboard() -> None:
        async with simulated_client(provider="openai", failure_rate=0.2) as client:
            result = await client.generate_batch(["a fox", "a crow"])
            assert len(result.items) == 2

A pytest fixture with the same settings (in ``conftest.py``)::

    from sora_async.testing import sora_client_fixture

    sora_client = sora_client_fixture(provider="codefast", daily_limit=5)

Time that moves only when the test says, so a job's state cannot race the test::

    clock = ManualClock()
    async with simulated_client(clock=clock) as client:
        job = await client.submit("a fox")    # queued, and it stays queued
        clock.advance(10)                     # 1,000 simulated seconds at time_scale=0.01
        done = await client.wait(job)         # completed

The simulator over a real socket, for code that needs a URL::

    with serve_simulator(provider="soravideo") as server:
        client = server.client()          # an AsyncSoraClient on server.url
        server.simulator.counters.total   # what the simulator has seen

Your own FastAPI app under a real uvicorn server (asyncio), for streams and shutdown::

    async with serve_app(app) as url:
        ...

pytest is imported only by :func:`sora_client_fixture` and uvicorn only by the servers, so
this module imports without either.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from ._client import AsyncSoraClient
from .simulator import Faults, Simulator

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = [
    "ManualClock",
    "SimulatorServer",
    "serve_app",
    "serve_simulator",
    "simulated_client",
    "simulator_of",
    "sora_client_fixture",
]

# The key a client uses when the simulator accepts any key.
_ANY_KEY = "sk-simulated"


class ManualClock:
    """A clock for the simulator that moves only when :meth:`advance` is called.

    Jobs go from queued to processing to done by the simulator's clock, so with this one a
    test decides when each happens, and what it asserts cannot race. Readings are the
    simulator's (real) seconds: a simulated duration times ``time_scale``, so at
    ``time_scale=0.01`` a 60-second job takes ``0.6``. Pass it as ``clock=`` to
    :func:`simulated_client`, :func:`serve_simulator`, ``Simulator`` or
    ``sora_lifespan(simulate=True, ...)``. The client's own waits (poll intervals, retry
    delays) stay real.

    >>> clock = ManualClock()
    >>> clock.advance(0.5)
    0.5
    >>> clock()
    0.5
    """

    def __init__(self) -> None:
        self._now = 0.0
        # A served simulator reads the clock in its server thread.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now!r})"

    def __call__(self) -> float:
        """The current reading (the simulator calls this instead of ``time.monotonic``)."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock ``seconds`` forward (never back) and return the new reading."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"seconds must be finite and not negative, not {seconds!r}")
        with self._lock:
            self._now += seconds
            return self._now


@asynccontextmanager
async def simulated_client(
    *,
    provider: str = "codefast",
    time_scale: float = 0.01,
    faults: Faults | Mapping[str, Any] | None = None,
    clock: Callable[[], float] | None = None,
    **settings: Any,
) -> AsyncIterator[AsyncSoraClient]:
    """An open client on a fresh in-process simulator; closed (polls cancelled) on exit.

    ``settings`` are :class:`~sora_async.simulator.SimulatorSettings` fields (``seed``,
    ``failure_rate``, ``daily_limit``, ``rate_limit``, ``concurrent_limit``, ``credits``,
    ``service_time``, ...) or client options (``poll_interval``, ``max_retries``, ...).
    ``faults`` sets random fault rates, e.g. ``{"error_rate": 0.2}``; script single faults
    with ``simulator_of(client).inject("5xx", route="status")``. ``clock`` (a
    :class:`ManualClock`) is the simulator's time, moved by the test.

    >>> async def demo() -> None:  # doctest: +SKIP
    ...     async with simulated_client(provider="soravideo", daily_limit=3) as client:
    ...         job = await client.generate("a lighthouse at dusk")
    """
    _add_options(settings, faults=faults, clock=clock)
    async with AsyncSoraClient.simulated(
        provider=provider, time_scale=time_scale, **settings
    ) as client:
        yield client


def _add_options(
    settings: dict[str, Any],
    *,
    faults: Faults | Mapping[str, Any] | None,
    clock: Callable[[], float] | None,
) -> None:
    # Left out when not given, so that the simulator's own defaults apply.
    if faults is not None:
        settings["faults"] = faults
    if clock is not None:
        settings["clock"] = clock


def simulator_of(client: AsyncSoraClient) -> Simulator:
    """The simulator behind a simulated client (typed, unlike ``client.simulator``).

    >>> simulator_of(AsyncSoraClient.simulated(provider="openai")).settings.provider
    'openai'
    """
    if client.simulator is None:
        raise TypeError(f"{client!r} is not on a simulator: make it with simulated_client()")
    return client.simulator


def sora_client_fixture(*, name: str = "sora_client", **settings: Any) -> Any:
    """A pytest fixture yielding a :func:`simulated_client` with ``settings``.

    Assign it in ``conftest.py`` or a test module; tests using it need ``@pytest.mark.anyio``.
    Override settings per test with indirect parametrization::

        sora_client = sora_client_fixture(provider="openai")

        @pytest.mark.anyio
        @pytest.mark.parametrize("sora_client", [{"failure_rate": 1.0}], indirect=True)
        async def test_failures(sora_client: AsyncSoraClient) -> None: ...
    """
    import pytest  # only here: the rest of this module works without pytest

    async def fixture(request: pytest.FixtureRequest) -> AsyncIterator[AsyncSoraClient]:
        overrides: Mapping[str, Any] = getattr(request, "param", {})
        async with simulated_client(**{**settings, **overrides}) as client:
            yield client

    return pytest.fixture(name=name)(fixture)


@dataclass(frozen=True)
class SimulatorServer:
    """A simulator served on 127.0.0.1: its base ``url``, the ``simulator`` and the key to use."""

    url: str
    simulator: Simulator
    api_key: str

    @property
    def provider(self) -> str:
        return self.simulator.settings.provider

    def client(self, **options: Any) -> AsyncSoraClient:
        """A client for this server over the network, its timing scaled like the simulator.

        ``options`` are :class:`~sora_async.AsyncSoraClient` arguments; pass another
        ``api_key`` to see how your code takes a refused key.
        """
        scale = self.simulator.settings.time_scale
        # The same scaling AsyncSoraClient.simulated applies: sim seconds become real ones.
        options.setdefault("poll_interval", 3.0 * scale)
        options.setdefault("max_poll_interval", 30.0 * scale)
        options.setdefault("api_key", self.api_key)
        client = AsyncSoraClient(provider=self.provider, base_url=self.url, **options)
        client.scale_time(scale)
        return client


@contextlib.contextmanager
def serve_simulator(
    *,
    provider: str = "codefast",
    time_scale: float = 0.01,
    port: int = 0,
    faults: Faults | Mapping[str, Any] | None = None,
    clock: Callable[[], float] | None = None,
    **settings: Any,
) -> Iterator[SimulatorServer]:
    """Serve a fresh simulator on 127.0.0.1 (a free port unless ``port`` is given).

    uvicorn (the ``simulator`` extra) runs in a daemon thread and stops on exit. Settings
    and ``clock`` are as for :func:`simulated_client`; with ``api_key=`` only that key is
    accepted.

    >>> with serve_simulator(provider="openai") as server:  # doctest: +SKIP
    ...     print(server.url)
    http://127.0.0.1:54321/v1
    """
    _add_options(settings, faults=faults, clock=clock)
    simulator = Simulator(provider=provider, time_scale=time_scale, **settings)
    with simulator.serve_in_thread(port=port) as url:
        yield SimulatorServer(
            url=url, simulator=simulator, api_key=settings.get("api_key") or _ANY_KEY
        )


@asynccontextmanager
async def serve_app(app: Starlette, *, port: int = 0, **config: Any) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 in this event loop; yield its base URL.

    The app's lifespan runs at startup and at exit, as in production; event streams of
    :mod:`sora_async.contrib.fastapi` are ended first. asyncio only (uvicorn's own loop);
    ``config`` is ``uvicorn.Config``'s. Log records propagate, so ``caplog`` sees them.

    >>> async with serve_app(app) as url:  # doctest: +SKIP
    ...     async with httpx.AsyncClient(base_url=url) as http:
    ...         print((await http.post("/videos", json={"prompt": "a fox"})).status_code)
    202
    """
    from .contrib.fastapi import uvicorn_server

    config = {"log_config": None, "log_level": "warning", **config}
    server = uvicorn_server(app, host="127.0.0.1", port=port, **config)
    stopped = anyio.Event()
    failure: list[SystemExit] = []

    async def serve() -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn exits the process when the startup fails
            failure.append(exc)
        finally:
            stopped.set()

    # The group is entered by hand so that an error of the ``async with`` body comes out as
    # itself, not wrapped in an ExceptionGroup: only a cancellation is the group's business.
    group = anyio.create_task_group()
    await group.__aenter__()
    try:
        group.start_soon(serve)
        while not server.started:  # uvicorn has a "started" flag, not an event to wait on
            if stopped.is_set():
                cause = failure[0] if failure else None
                raise RuntimeError("the app did not start: see the log") from cause
            await anyio.sleep(0.005)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{bound}"
    except anyio.get_cancelled_exc_class() as exc:
        server.should_exit = True
        if not await group.__aexit__(type(exc), exc, exc.__traceback__):
            raise
    except BaseException:
        server.should_exit = True
        await group.__aexit__(None, None, None)  # a clean shutdown, then the body's error
        raise
    else:
        server.should_exit = True
        await group.__aexit__(None, None, None)
