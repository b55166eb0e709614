"""The in-process transport: httpx's ASGI transport plus the simulator's network faults."""

from __future__ import annotations

import httpx

from ._app import SimulatorApp
from ._errors import ConnectionDropped


class SimulatorTransport(httpx.ASGITransport):
    """Sends requests straight into a simulator's ASGI app, with no sockets.

    Network faults become the errors a real network gives: a dropped connection raises
    ``httpx.RemoteProtocolError``, and a scripted ``timeout`` fault raises
    ``httpx.ReadTimeout`` before the app sees the request (so nothing is created).
    """

    def __init__(self, app: SimulatorApp) -> None:
        super().__init__(app=app)
        self._sim_app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        route = self._sim_app.route_name(request.method, request.url.path)
        if route is not None and self._sim_app.plan.take_timeout(route):
            # The request left the client, so the server "saw" it: count it, answer nothing.
            self._sim_app.counters.started(route)
            self._sim_app.counters.finished(route)
            raise httpx.ReadTimeout("simulated read timeout", request=request)
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "simulated connection drop: peer closed connection without sending complete "
                "message body",
                request=request,
            ) from exc
