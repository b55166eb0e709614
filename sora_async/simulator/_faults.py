"""Fault injection: random fault rates (:class:`Faults`) and scripted faults (:class:`FaultPlan`).

Faults model the infrastructure between a client and the provider (gateways, proxies, the
network), so most of them answer *before* the provider's logic runs and spend no quota.
Two deliberately do not: ``malformed_json`` truncates a real answer and ``drop_after_accept``
drops the connection after a submit was accepted, because those are the failures that test
whether a client loses or duplicates jobs.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._types import CREATE_ROUTES, ROUTE_NAMES, Provider

FaultKind = Literal[
    "5xx",
    "429",
    "html",
    "malformed_json",
    "slow",
    "drop_after_accept",
    "timeout",
    "envelope_error",
]
"""The kinds :meth:`Simulator.inject` accepts."""

FAULT_KINDS: frozenset[str] = frozenset(get_args(FaultKind))

# The keyword parameters each kind takes, with their defaults.
_PARAMS: dict[str, dict[str, float | int | str | None]] = {
    "5xx": {"status": 503, "retry_after": None},
    "429": {"retry_after": 1.0},
    "html": {},
    "malformed_json": {},
    "slow": {"seconds": None},
    "drop_after_accept": {},
    "timeout": {},
    "envelope_error": {"code": 500, "message": "Internal error, please try again later"},
}


class Faults(BaseModel):
    """Random fault rates, each a probability per request (all off by default).

    Mutable at run time: ``sim.faults.error_rate = 0.2`` takes effect on the next request.
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """A 500/502/503 in the provider's own error format."""
    html_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """A 502 with an HTML page (``text/html``), as a gateway sends it."""
    malformed_json_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """HTTP 200 with the real answer's JSON cut in half."""
    slow_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """The answer is delayed by ``slow_seconds`` (sim seconds, scaled)."""
    slow_seconds: float = Field(default=5.0, ge=0.0)
    drop_after_submit_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    """A submit is accepted (the job exists, quota is spent), then the connection drops."""
    routes: set[str] | None = None
    """Restrict random faults to these route names (``None``: every route)."""

    @field_validator("routes")
    @classmethod
    def _known_routes(cls, routes: set[str] | None) -> set[str] | None:
        if routes is not None and not routes <= ROUTE_NAMES:
            unknown = ", ".join(sorted(routes - ROUTE_NAMES))
            raise ValueError(f"unknown route name(s): {unknown}")
        return routes


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to apply to one request. Durations are sim seconds (unscaled)."""

    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    code: int = 500
    message: str = ""


@dataclass(slots=True)
class _Scripted:
    fault: Fault
    route: str | None
    remaining: int


class FaultPlan:
    """Decides the fault, if any, for each request: scripted faults first, then random ones."""

    def __init__(self, faults: Faults, *, seed: int, provider: Provider) -> None:
        self.rates = faults
        self._provider = provider
        # A separate stream, so turning faults on does not change service times or failures.
        self._rng = random.Random(f"sora_async.simulator.faults:{seed}")
        self._scripted: list[_Scripted] = []
        # inject() may run on another thread than a uvicorn server's event loop.
        self._lock = threading.Lock()

    def inject(
        self, kind: str, *, route: str | None, times: int, params: dict[str, object]
    ) -> None:
        """Queue a scripted fault for the next ``times`` requests matching ``route``."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if route is not None and route not in ROUTE_NAMES:
            raise ValueError(f"unknown route name {route!r}; expected one of {sorted(ROUTE_NAMES)}")
        if times < 1:
            raise ValueError("times must be at least 1")
        if kind == "envelope_error" and self._provider != "soravideo":
            raise ValueError("envelope_error faults exist only on the soravideo protocol")
        if kind == "drop_after_accept" and route is not None and route not in CREATE_ROUTES:
            raise ValueError("drop_after_accept applies only to routes that create jobs")
        unknown = set(params) - set(_PARAMS[kind])
        if unknown:
            raise TypeError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}")
        fault = _build(kind, {**_PARAMS[kind], **params}, self.rates.slow_seconds)
        with self._lock:
            self._scripted.append(_Scripted(fault, route, times))

    def clear(self) -> None:
        """Forget every scripted fault that has not fired yet."""
        with self._lock:
            self._scripted.clear()

    def take_timeout(self, route: str) -> bool:
        """Consume the next scripted fault for ``route`` if it is a ``timeout`` (transport use)."""
        with self._lock:
            entry = self._first(route)
            if entry is None or entry.fault.kind != "timeout":
                return False
            self._consume(entry)
            return True

    def next(self, route: str) -> Fault | None:
        """The fault for this request: the next scripted one matching ``route``, else a draw."""
        with self._lock:
            entry = self._first(route)
            if entry is not None:
                self._consume(entry)
                return entry.fault
            return self._draw(route)

    def _first(self, route: str) -> _Scripted | None:
        for entry in self._scripted:
            if entry.route is not None and entry.route != route:
                continue
            if entry.fault.kind == "drop_after_accept" and route not in CREATE_ROUTES:
                continue
            return entry
        return None

    def _consume(self, entry: _Scripted) -> None:
        entry.remaining -= 1
        if entry.remaining == 0:
            self._scripted.remove(entry)

    def _draw(self, route: str) -> Fault | None:
        rates = self.rates
        if rates.routes is not None and route not in rates.routes:
            return None
        drop = rates.drop_after_submit_rate if route in CREATE_ROUTES else 0.0
        chances: list[tuple[float, FaultKind]] = [
            (rates.error_rate, "5xx"),
            (rates.html_error_rate, "html"),
            (rates.malformed_json_rate, "malformed_json"),
            (rates.slow_rate, "slow"),
            (drop, "drop_after_accept"),
        ]
        if not any(chance for chance, _ in chances):
            return None
        draw = self._rng.random()
        for chance, kind in chances:
            if draw < chance:
                return self._random_fault(kind)
            draw -= chance
        return None

    def _random_fault(self, kind: FaultKind) -> Fault:
        if kind == "5xx":
            status = self._rng.choice((500, 502, 503))
            # A 503 says when to come back, as overloaded gateways do.
            return Fault("5xx", status=status, retry_after=1.0 if status == 503 else None)
        if kind == "slow":
            return Fault("slow", seconds=self.rates.slow_seconds)
        return Fault(kind)


def _build(kind: str, params: dict[str, object], slow_seconds: float) -> Fault:
    """Validate one scripted fault's parameters and freeze them."""
    status = _number(params.get("status", 503), "status")
    if kind == "5xx" and not (500 <= status <= 599 and status == int(status)):
        raise ValueError("a 5xx fault needs a status between 500 and 599")
    retry = params.get("retry_after")
    retry_after = None if retry is None else _number(retry, "retry_after")
    if retry_after is not None and retry_after < 0:
        raise ValueError("retry_after must not be negative")
    raw_seconds = params.get("seconds")
    seconds = slow_seconds if raw_seconds is None else _number(raw_seconds, "seconds")
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    message = params.get("message", "")
    if not isinstance(message, str):
        raise TypeError("message must be a string")
    code = _number(params.get("code", 500), "code")
    fault_kind: FaultKind = kind  # type: ignore[assignment]  # checked by the caller
    return Fault(
        fault_kind,
        status=int(status),
        retry_after=retry_after,
        seconds=seconds,
        code=int(code),
        message=message,
    )


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number")
    return float(value)
