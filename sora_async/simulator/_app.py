"""The ASGI application: routing, the fault pipeline, counters, file and admin routes.

One request goes: count it -> scripted or random fault -> authenticate -> rate window and
daily quota -> the protocol's handler -> quota headers -> send (or drop).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

import anyio
from pydantic import ValidationError

from ._asgi import (
    Call,
    Match,
    Receive,
    Request,
    Response,
    Router,
    Scope,
    Send,
    read_request,
    send_response,
)
from ._counters import Counters
from ._errors import (
    ConnectionDropped,
    EnvelopeFault,
    Limit,
    Limited,
    MethodNotAllowed,
    NotFound,
    ServerFault,
    SimError,
)
from ._faults import Fault, FaultPlan
from ._media import Uploads, mp4, png
from ._protocol import ProtocolBase

log = logging.getLogger("sora_async.simulator")

# A "timeout" fault under a real server: wait for the client to give up, for longer than
# any sane client timeout (it is an absolute time on purpose, not a simulated one).
HANG_SECONDS = 600.0

_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class SimulatorApp:
    """The raw ASGI callable serving one provider's protocol, files and ``/_sim/`` admin."""

    def __init__(
        self,
        *,
        protocol: ProtocolBase,
        plan: FaultPlan,
        counters: Counters,
        uploads: Uploads,
    ) -> None:
        self.protocol = protocol
        self.engine = protocol.engine
        self.plan = plan
        self.counters = counters
        self.uploads = uploads
        self._router = Router()
        protocol.add_routes(self._router)
        self._router.add("GET HEAD", "/files/uploads/{name}", "file", self._upload, auth=False)
        self._router.add("GET HEAD", "/files/{name}", "file", self._job_file, auth=False)
        self._admin = Router()
        self._admin.add("GET", "/_sim/counters", "admin", self._admin_counters)
        self._admin.add("GET", "/_sim/jobs", "admin", self._admin_jobs)
        self._admin.add("POST", "/_sim/reset", "admin", self._admin_reset)
        self._admin.add("POST", "/_sim/reset-day", "admin", self._admin_reset_day)
        self._admin.add("POST", "/_sim/inject", "admin", self._admin_inject)
        self._admin.add("GET PUT POST", "/_sim/faults", "admin", self._admin_faults)

    def route_name(self, method: str, path: str) -> str | None:
        """The route name a request would hit (``None`` for unknown paths and methods)."""
        match = self._router.match(method.upper(), path)
        return match.route.name if match is not None and match.route is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        admin = self._admin_path(request.path)
        if admin is not None:
            request.path = admin
            await send_response(send, self._admin_answer(request))
            return
        match = self._router.match(request.method, request.path)
        name = match.route.name if match is not None and match.route is not None else None
        self.counters.started(name)
        try:
            answer = await self._answer(request, match, receive)
            if answer is not None:
                await self._send(send, request, *answer)
        finally:
            self.counters.finished(name)

    async def _answer(
        self, request: Request, match: Match | None, receive: Receive
    ) -> tuple[Response, bool] | None:
        """The response, and whether to drop the connection after its first half."""
        if match is None or match.route is None:
            error: SimError = NotFound("Not Found") if match is None else MethodNotAllowed()
            response = self.protocol.render(error)
            return self._quota_headers(response, self.protocol.peek(request)), False
        route = match.route
        fault = self.plan.next(route.name)
        if fault is not None:
            if fault.kind == "slow":
                await anyio.sleep(self.engine.scaled(fault.seconds))
            elif fault.kind == "timeout":
                return await self._hang(receive)
            elif fault.kind not in ("malformed_json", "drop_after_accept"):
                response = self._fault_response(fault)
                if fault.kind != "html" and route.auth:
                    self._quota_headers(response, self.protocol.peek(request))
                return response, False
        response, key = self._dispatch(request, match)
        if response.job_id is not None and key is not None:
            self.counters.submits += 1
            self.counters.active_tasks(self.engine.active(key))
        if route.auth:
            self._quota_headers(response, key)
        if fault is not None and fault.kind == "malformed_json":
            response = _truncated(response)
        drop = (
            fault is not None and fault.kind == "drop_after_accept" and response.job_id is not None
        )
        return response, drop

    def _dispatch(self, request: Request, match: Match) -> tuple[Response, str | None]:
        """Authenticate, apply the per-request limits, run the handler; render errors."""
        route = match.route
        assert route is not None
        key: str | None = None
        try:
            if route.auth:
                key = self.protocol.identify(request)
                self.engine.admit(key)
            return route.handler(Call(request, match.params, key or "")), key
        except SimError as error:
            return self.protocol.render(error), key
        except Exception:
            # A bug in the simulator must not look like a network failure to the client.
            log.exception("simulator error on %s %s", request.method, request.path)
            return self.protocol.render(ServerFault(500)), key

    def _quota_headers(self, response: Response, key: str | None) -> Response:
        response.headers.extend(self.protocol.response_headers(key))
        return response

    def _fault_response(self, fault: Fault) -> Response:
        if fault.kind == "html":
            return Response.html(_BAD_GATEWAY, 502)
        if fault.kind == "429":
            retry = self.engine.scaled(fault.retry_after if fault.retry_after is not None else 1.0)
            return self.protocol.render(Limited(Limit.RATE, retry_after=retry))
        if fault.kind == "envelope_error":
            return self.protocol.render(EnvelopeFault(fault.code, fault.message))
        retry_after = None if fault.retry_after is None else self.engine.scaled(fault.retry_after)
        return self.protocol.render(ServerFault(fault.status, retry_after=retry_after))

    async def _hang(self, receive: Receive) -> tuple[Response, bool] | None:
        """Answer nothing until the client gives up (then create nothing)."""
        with anyio.move_on_after(HANG_SECONDS):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
        return self.protocol.render(ServerFault(504)), False

    async def _send(self, send: Send, request: Request, response: Response, drop: bool) -> None:
        if not drop:
            self.counters.responded(response.status)
            await send_response(send, response, head=request.method == "HEAD")
            return
        self.counters.dropped += 1
        # The headers promise the whole body; half of it arrives, then the connection dies.
        start = {"type": "http.response.start", "status": response.status}
        await send({**start, "headers": response.raw_headers()})
        half = response.body[: len(response.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise ConnectionDropped(f"simulated connection drop after accepting {response.job_id}")

    # -- files --------------------------------------------------------------------------

    def _job_file(self, call: Call) -> Response:
        stem, _, suffix = call.params["name"].rpartition(".")
        job = self.engine.get(stem)
        if job is None or suffix not in ("mp4", "png"):
            raise NotFound("File not found")
        if self.engine.state(job).phase != "completed":
            raise NotFound("File not found")
        if suffix == "png":
            return Response(200, png(), "image/png")
        return Response(
            200, mp4(seconds=job.seconds, width=job.width, height=job.height), "video/mp4"
        )

    def _upload(self, call: Call) -> Response:
        stored = self.uploads.get(call.params["name"])
        if stored is None:
            raise NotFound("File not found")
        return Response(200, stored.data, stored.content_type)

    # -- admin (not authenticated, not counted) -----------------------------------------

    def _admin_path(self, path: str) -> str | None:
        """``/_sim/...``, also reachable below the provider's prefix (relative to base_url)."""
        prefix = self.protocol.prefix
        if prefix and path.startswith(f"{prefix}/_sim/"):
            path = path[len(prefix) :]
        return path if path.startswith("/_sim/") else None

    def _admin_answer(self, request: Request) -> Response:
        match = self._admin.match(request.method, request.path)
        if match is None or match.route is None:
            return Response.json({"error": "no such admin route"}, 404)
        try:
            return match.route.handler(Call(request, match.params, ""))
        except (ValueError, TypeError, ValidationError) as exc:
            return Response.json({"error": str(exc)}, 400)

    def _admin_counters(self, call: Call) -> Response:
        return Response.json(self.counters.as_dict())

    def _admin_jobs(self, call: Call) -> Response:
        return Response.json([asdict(record) for record in self.engine.records()])

    def _admin_reset(self, call: Call) -> Response:
        self.counters.reset()
        return Response.json({"ok": True})

    def _admin_reset_day(self, call: Call) -> Response:
        self.engine.reset_day()
        return Response.json({"ok": True})

    def _admin_inject(self, call: Call) -> Response:
        body = _admin_body(call.request)
        kind = body.pop("kind", None)
        route = body.pop("route", None)
        times = body.pop("times", 1)
        if not isinstance(kind, str) or not isinstance(times, int):
            raise ValueError("inject needs a string 'kind' and an integer 'times'")
        if route is not None and not isinstance(route, str):
            raise ValueError("route must be a string")
        self.plan.inject(kind, route=route, times=times, params=body)
        return Response.json({"ok": True})

    def _admin_faults(self, call: Call) -> Response:
        faults = self.plan.rates
        if call.request.method != "GET":
            for name, value in _admin_body(call.request).items():
                if name not in type(faults).model_fields:
                    raise ValueError(f"unknown fault setting {name!r}")
                setattr(faults, name, value)
        return Response.json(faults.model_dump(mode="json"))


def _admin_body(request: Request) -> dict[str, Any]:
    data = request.json() if request.body else {}
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def _truncated(response: Response) -> Response:
    """A 200 whose JSON body stops halfway (``malformed_json`` fault)."""
    body = response.body if response.content_type.startswith("application/json") else b""
    if len(body) < 2:
        body = b'{"status":"ok","data":{"id":"x"}}'
    cut = body[: len(body) // 2]
    return Response(200, cut, "application/json", response.headers, response.job_id)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop: acknowledge both (for servers that insist on lifespan)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
