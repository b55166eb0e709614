"""From one run's raw data (the client's JSON, the server's jobs and counters) to metrics.

Definitions (all times are real seconds; client and server share this machine's clock):

* **requests per finished video**: every API request the server counted (``/_sim/counters``
  ``total``: submits, polls, lists, 429s included; admin routes excluded) divided by the
  videos the client yielded as completed.
* **detection delay** of a job: the real unix time the client yielded it minus the time the
  server finished it (``/_sim/jobs`` ``finished_at``). p50/p95 are nearest-rank percentiles.
* **makespan**: last yield minus the server's first ``submitted_at``. The **server's own
  makespan** is its last ``finished_at`` minus the same first ``submitted_at``.
* **server minimum**: the makespan the server's slots allow for the service times it drew,
  with every job sent at the first instant possible. A job's service time is
  ``finished_at - started_at``; the pickup delay (submit to earliest start) is the smallest
  ``started_at - submitted_at`` seen. Jobs are laid greedily, in submission order, on the
  slots (soravideo: its 3 concurrent tasks; codefast: its workers). Under a concurrent-task
  limit a new job can only be sent once a slot is free, so it starts a pickup delay later;
  a worker queue starts a waiting job the moment a worker frees.
* **tracked at once**: the most jobs submitted (server side) but not yet yielded.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RunMetrics", "analyse", "minimum_makespan", "percentile"]


@dataclass(frozen=True)
class RunMetrics:
    """One client's run against one fresh server."""

    profile: str
    client: str  # "sdk" or "baseline"
    n: int
    completed: int
    timed_out: bool
    requests: int
    requests_by_route: dict[str, int]
    requests_per_video: float
    responses_429: int
    delay_p50: float
    delay_p95: float
    delay_max: float
    makespan: float
    server_makespan: float
    server_minimum: float
    cpu_seconds: float
    peak_rss_mb: float
    connections_opened: int
    peak_open_connections: int
    sampled_sockets: int
    sampled_peak_sockets: int
    max_connections: int | None
    pool_timeouts: int
    errors: dict[str, int]
    max_tracked: int
    poll_interval: float


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``nan`` for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def minimum_makespan(
    services: Sequence[float], *, slots: int, pickup: float, submit_after_free: bool
) -> float:
    """The shortest makespan ``slots`` parallel slots allow for ``services`` (see above)."""
    free = [0.0] * max(1, slots)
    end = 0.0
    for service in services:
        slot_free = heapq.heappop(free)
        start = slot_free + pickup if submit_after_free else max(pickup, slot_free)
        finish = start + service
        end = max(end, finish)
        heapq.heappush(free, finish)
    return end


def _server_minimum(jobs: list[dict[str, Any]], slots: int, submit_after_free: bool) -> float:
    ran = [job for job in jobs if job["started_at"] is not None and job["finished_at"]]
    if not ran:
        return math.nan
    pickup = min(job["started_at"] - job["submitted_at"] for job in ran)
    services = [job["finished_at"] - job["started_at"] for job in ran]
    return minimum_makespan(
        services, slots=slots, pickup=pickup, submit_after_free=submit_after_free
    )


def _max_tracked(jobs: list[dict[str, Any]], yields: list[float]) -> int:
    events = [(job["submitted_at"], 1) for job in jobs] + [(t, -1) for t in yields]
    events.sort()
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def analyse(
    *,
    profile: str,
    client: str,
    n: int,
    slots: int,
    submit_after_free: bool,
    poll_interval: float,
    result: dict[str, Any],
    jobs: list[dict[str, Any]],
    counters: dict[str, Any],
) -> RunMetrics:
    """The metrics of one run (see the module docstring for each definition)."""
    jobs = sorted(jobs, key=lambda job: job["submitted_at"])
    finished_at = {job["id"]: job["finished_at"] for job in jobs}
    done = [(job_id, at) for job_id, status, at, _ in result["items"] if status == "completed"]
    delays = [at - finished_at[job_id] for job_id, at in done if finished_at.get(job_id)]
    first_submit = jobs[0]["submitted_at"] if jobs else result["started_at"]
    last_yield = max((at for _, at in done), default=math.nan)
    last_finish = max((job["finished_at"] or math.nan for job in jobs), default=math.nan)
    errors: dict[str, int] = result["errors"]
    return RunMetrics(
        profile=profile,
        client=client,
        n=n,
        completed=len(done),
        timed_out=result["timed_out"],
        requests=counters["total"],
        requests_by_route=dict(counters["requests"]),
        requests_per_video=counters["total"] / len(done) if done else math.inf,
        responses_429=int(counters["responses"].get("429", 0)),
        delay_p50=percentile(delays, 0.50),
        delay_p95=percentile(delays, 0.95),
        delay_max=max(delays, default=math.nan),
        makespan=last_yield - first_submit,
        server_makespan=last_finish - first_submit,
        server_minimum=_server_minimum(jobs, slots, submit_after_free),
        cpu_seconds=result["cpu_seconds"],
        peak_rss_mb=result["peak_rss_mb"],
        connections_opened=result["connections_opened"],
        peak_open_connections=result["peak_open_connections"],
        sampled_sockets=result["sampled_sockets"],
        sampled_peak_sockets=result["sampled_peak_sockets"],
        max_connections=result["max_connections"],
        pool_timeouts=sum(count for kind, count in errors.items() if "PoolTimeout" in kind),
        errors=errors,
        max_tracked=_max_tracked(jobs, [at for job_id, _, at, _ in result["items"] if job_id]),
        poll_interval=poll_interval,
    )
