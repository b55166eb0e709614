"""The public :class:`Simulator`: one fake provider, in-process or over a socket."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from ._app import SimulatorApp
from ._codefast import Codefast
from ._counters import Counters
from ._engine import Engine, JobRecord
from ._faults import FaultKind, FaultPlan, Faults
from ._media import Uploads
from ._openai import OpenAIVideos
from ._protocol import Context, ProtocolBase
from ._settings import SimulatorSettings
from ._soravideo import SoraVideo
from ._state import StateFile
from ._transport import SimulatorTransport

_PROTOCOLS: dict[str, type[ProtocolBase]] = {
    "codefast": Codefast,
    "soravideo": SoraVideo,
    "openai": OpenAIVideos,
}


class Simulator:
    """A faithful fake of one Sora-2 provider, for tests, demos and benchmarks.

    Keyword arguments are :class:`SimulatorSettings` fields (or pass ``settings=``).
    ``clock`` replaces ``time.monotonic`` (for tests that move time by hand). ``state`` is a
    file the jobs, quotas and credits are kept in, so that another process goes on where
    this one stopped (a simulated batch killed and run again).

    >>> sim = Simulator(provider="soravideo", time_scale=0.01)
    >>> sim.base_url
    'http://soravideo.sim/api/v1'

    In-process use::

        async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url) as http:
            ...
    """

    def __init__(
        self,
        *,
        settings: SimulatorSettings | None = None,
        clock: Callable[[], float] | None = None,
        state: str | os.PathLike[str] | None = None,
        **fields: Any,
    ) -> None:
        if settings is not None and fields:
            raise TypeError("pass either settings= or SimulatorSettings fields, not both")
        self.settings = settings if settings is not None else SimulatorSettings(**fields)
        self.counters = Counters()
        self._engine = Engine(
            self.settings, clock=clock, state=StateFile(state) if state is not None else None
        )
        self._plan = FaultPlan(
            self.settings.faults, seed=self.settings.seed, provider=self.settings.provider
        )
        uploads = Uploads()
        protocol = _PROTOCOLS[self.settings.provider](
            Context(settings=self.settings, engine=self._engine, uploads=uploads)
        )
        self._protocol = protocol
        self.app = SimulatorApp(
            protocol=protocol, plan=self._plan, counters=self.counters, uploads=uploads
        )

    def __repr__(self) -> str:
        settings = self.settings
        return f"Simulator(provider={settings.provider!r}, time_scale={settings.time_scale!r})"

    @property
    def base_url(self) -> str:
        """The base URL for in-process clients, e.g. ``http://soravideo.sim/api/v1``."""
        return self._protocol.base_url()

    @property
    def faults(self) -> Faults:
        """Random fault rates; assign to change them (``sim.faults.error_rate = 0.1``)."""
        return self._plan.rates

    def transport(self) -> SimulatorTransport:
        """A new in-process httpx transport into this simulator."""
        return SimulatorTransport(self.app)

    def inject(
        self, kind: FaultKind, *, route: str | None = None, times: int = 1, **params: Any
    ) -> None:
        """Script a fault for the next ``times`` requests to ``route`` (any route if None).

        Kinds and parameters: ``"5xx"`` (``status=503``, ``retry_after=None``), ``"429"``
        (``retry_after=1.0``), ``"html"``, ``"malformed_json"``, ``"slow"`` (``seconds``),
        ``"drop_after_accept"`` (job-creating routes), ``"timeout"``, ``"envelope_error"``
        (soravideo; ``code=500``, ``message``). Durations are sim seconds. Scripted faults
        fire in the order injected, before random ones.

        >>> sim = Simulator()
        >>> sim.inject("5xx", route="status", status=502)
        """
        self._plan.inject(kind, route=route, times=times, params=params)

    def clear_faults(self) -> None:
        """Drop the scripted faults that have not fired yet."""
        self._plan.clear()

    def reset_counters(self) -> None:
        """Zero :attr:`counters`."""
        self.counters.reset()

    def reset_day(self) -> None:
        """Give every key its whole daily quota back now."""
        self._engine.reset_day()

    def jobs(self) -> list[JobRecord]:
        """Every job submitted so far, with real unix times (for benchmarks)."""
        return self._engine.records()

    @contextlib.contextmanager
    def serve_in_thread(self, port: int = 0) -> Iterator[str]:
        """Serve over HTTP on 127.0.0.1 (uvicorn in a daemon thread); yield the base URL.

        >>> with Simulator(time_scale=0.01).serve_in_thread() as url:  # doctest: +SKIP
        ...     httpx.get(url + "/", headers={"X-API-Key": "k"}).json()["status"]
        'running'
        """
        from ._server import HOST
        from ._server import serve_in_thread as serve

        with serve(self.app, port=port) as bound:
            yield f"http://{HOST}:{bound}{self._protocol.prefix}"
