"""Request counters, read by tests and benchmarks (and served at ``GET /_sim/counters``)."""

from __future__ import annotations

from typing import Any

from ._types import POLL_ROUTES


class Counters:
    """What the simulator has seen since it started (or since :meth:`reset`).

    ``in_flight`` and ``poll_in_flight`` are gauges (requests being answered right now);
    the ``max_*`` fields are their high-water marks. ``poll`` means the ``status`` and
    ``list`` routes.
    """

    requests: dict[str, int]
    total: int
    submits: int
    responses: dict[int, int]
    rate_limited: int
    in_flight: int
    max_in_flight: int
    poll_in_flight: int
    max_poll_in_flight: int
    max_active_tasks: int
    dropped: int

    def __init__(self) -> None:
        self.in_flight = 0
        self.poll_in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Zero every counter; the gauges keep counting the requests still in flight."""
        self.requests = {}
        self.total = 0
        self.submits = 0
        self.responses = {}
        self.rate_limited = 0
        self.max_in_flight = self.in_flight
        self.max_poll_in_flight = self.poll_in_flight
        self.max_active_tasks = 0
        self.dropped = 0

    def started(self, route: str | None) -> None:
        """A request arrived (``route`` is ``None`` for an unknown path)."""
        self.total += 1
        if route is not None:
            self.requests[route] = self.requests.get(route, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if route in POLL_ROUTES:
            self.poll_in_flight += 1
            self.max_poll_in_flight = max(self.max_poll_in_flight, self.poll_in_flight)

    def finished(self, route: str | None) -> None:
        """A request has been answered (or dropped)."""
        self.in_flight -= 1
        if route in POLL_ROUTES:
            self.poll_in_flight -= 1

    def responded(self, status: int) -> None:
        """An answer with this HTTP status went out."""
        self.responses[status] = self.responses.get(status, 0) + 1
        if status == 429:
            self.rate_limited += 1

    def active_tasks(self, count: int) -> None:
        """One key now has ``count`` unfinished tasks."""
        self.max_active_tasks = max(self.max_active_tasks, count)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (status codes become string keys in JSON)."""
        return {
            "requests": dict(self.requests),
            "total": self.total,
            "submits": self.submits,
            "responses": dict(self.responses),
            "rate_limited": self.rate_limited,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "poll_in_flight": self.poll_in_flight,
            "max_poll_in_flight": self.max_poll_in_flight,
            "max_active_tasks": self.max_active_tasks,
            "dropped": self.dropped,
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"Counters({fields})"
