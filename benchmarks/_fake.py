"""An independent fake of the three services, for the benchmarks: none of the SDK's code.

    python benchmarks/_fake.py --provider codefast --time-scale 0.05 --workers 4 \\
        --service 40 120 --history 10000

Written from API.md alone (not from ``sora_async.simulator``), so the SDK is measured
against a server whose quirks it was not built alongside. A bare ASGI app on uvicorn
(127.0.0.1, h11); it prints ``ready at URL`` once it listens.

* Jobs: a service time drawn uniformly from ``--service`` (sim seconds, seeded), run in
  submission order on ``--workers`` slots, a pickup delay (1 sim s) after the submit at the
  earliest. Every duration is multiplied by ``--time-scale`` into real seconds.
* codefast: ``POST /generate``, ``GET /status/{id}`` (queue position while queued),
  ``GET /videos`` (every finished video, newest first, unpaged: ``--history`` old ones too).
* soravideo (under ``/api/v1``): the envelope, linear ``progress``, the published limits
  (20 requests per rolling minute for every authenticated request, 3 concurrent tasks,
  500 requests a day; minute and day scaled) answered 429 with codes 2001/2002/2003, and
  the ``X-RateLimit-*`` / ``X-Concurrent-*`` headers on every answer.
* openai (under ``/v1``): ``POST /videos``, ``GET /videos/{id}``, ``GET /videos`` (cursor
  pages of full video objects, newest first, ``--history`` old ones after the new).
* ``GET /_fake/jobs`` (real unix submitted/started/finished per job) and
  ``GET /_fake/counters`` (requests by route, responses by status, bytes sent) are not
  counted. ``/_sim/...`` answers the same, for the benchmark's shared reader.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import functools
import heapq
import json
import random
import sys
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Any, dict[str, str]]

PICKUP = 1.0  # sim seconds from a submit to the earliest start
SORAVIDEO_LIMITS = {"rate": 20, "window": 60.0, "concurrent": 3, "daily": 500}


@dataclass
class FakeJob:
    id: str
    prompt: str
    submitted: float  # real unix seconds
    start: float
    finish: float

    def status(self, now: float) -> str:
        if now >= self.finish:
            return "completed"
        return "processing" if now >= self.start else "queued"

    def progress(self, now: float) -> int:
        if now <= self.start:
            return 0
        return min(100, int(100 * (now - self.start) / (self.finish - self.start)))


@dataclass
class Fake:
    provider: str
    scale: float
    workers: int
    service: tuple[float, float]
    history: int
    seed: int = 0
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    order: list[FakeJob] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0
    recent: deque[float] = field(default_factory=deque)  # soravideo: request times in window
    day_requests: int = 0

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        self.slots = [0.0] * self.workers
        self.born = time.time()
        # Old finished videos, newest first, before anything of this run.
        self.old = [
            {"id": f"old-{i:06d}", "created": self.born - 3600 - 60 * i}
            for i in range(self.history)
        ]
        self._codefast_old = _codefast_old(self.born, self.history)

    # -- jobs ----------------------------------------------------------------------------------

    def submit(self, prompt: str, now: float) -> FakeJob:
        service = self.random.uniform(*self.service) * self.scale
        free = heapq.heappop(self.slots)
        start = max(now + PICKUP * self.scale, free)
        job = FakeJob(uuid.uuid4().hex, prompt, now, start, start + service)
        heapq.heappush(self.slots, job.finish)
        self.jobs[job.id] = job
        self.order.append(job)
        return job

    def active(self, now: float) -> int:
        return sum(1 for job in self.order if job.finish > now)

    def queue_position(self, job: FakeJob, now: float) -> int:
        if now >= job.start:
            return 0
        starts = sorted(j.start for j in self.order if j.start > now)
        return bisect.bisect_left(starts, job.start) + 1

    def finished_newest_first(self, now: float) -> list[FakeJob]:
        return sorted((j for j in self.order if j.finish <= now), key=lambda j: -j.finish)

    # -- soravideo's limits ---------------------------------------------------------------------

    def limited(self, now: float) -> tuple[int, str, float] | None:
        """A refusal (code, message, retry after) if this request breaks a limit; counts it."""
        window = SORAVIDEO_LIMITS["window"] * self.scale
        while self.recent and self.recent[0] <= now - window:
            self.recent.popleft()
        if self.day_requests >= SORAVIDEO_LIMITS["daily"]:
            return 2003, "Daily limit exceeded", 86400 * self.scale
        if len(self.recent) >= SORAVIDEO_LIMITS["rate"]:
            return 2001, "Rate limit exceeded", self.recent[0] + window - now
        self.recent.append(now)
        self.day_requests += 1
        return None

    def rate_headers(self, now: float) -> dict[str, str]:
        window = SORAVIDEO_LIMITS["window"] * self.scale
        reset = (self.recent[0] + window) if self.recent else now + window
        return {
            "X-RateLimit-Limit": str(SORAVIDEO_LIMITS["rate"]),
            "X-RateLimit-Remaining": str(max(0, SORAVIDEO_LIMITS["rate"] - len(self.recent))),
            "X-RateLimit-Reset": str(int(reset) + 1),
            "X-Concurrent-Limit": str(SORAVIDEO_LIMITS["concurrent"]),
            "X-Concurrent-Active": str(self.active(now)),
        }

    # -- the three protocols --------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        now = time.time()
        if self.provider == "codefast":
            return self.codefast(method, path, body, now)
        if self.provider == "soravideo":
            return self.soravideo(method, path.removeprefix("/api/v1"), body, now)
        return self.openai(method, path.removeprefix("/v1"), query, body, now)

    def codefast(self, method: str, path: str, body: Any, now: float) -> Answer:
        quota = {"daily_limit": 1_000_000, "daily_limit_remaining": 1_000_000 - len(self.order)}
        if method == "POST" and path == "/generate":
            self.counters["submit"] += 1
            job = self.submit(str(body.get("prompt", "")), now)
            position = self.queue_position(job, now)
            data = {"job_id": job.id, "status": "queued", "queue_position": position}
            data |= {"total_in_queue": position, "aspect_ratio": "16:9"}
            return 200, data | {"model": "sora-2-landscape"} | quota, {}
        if method == "GET" and path.startswith("/status/"):
            self.counters["status"] += 1
            job = self.jobs.get(path.removeprefix("/status/"))
            if job is None:
                return 404, {"detail": "Job not found"}, {}
            status = job.status(now)
            done = status == "completed"
            position = self.queue_position(job, now)
            return (
                200,
                {
                    "job_id": job.id,
                    "status": status,
                    "queue_position": position,
                    "total_in_queue": position,
                    "aspect_ratio": "16:9",
                    "model": "sora_video2-landscape-hd",
                    "video_url": f"https://cdn.fake/{job.id}.mp4" if done else "",
                    "error": "",
                    "created_at": _day_first(job.submitted),
                    "started_at": _day_first(job.start) if status != "queued" else "",
                    "completed_at": _day_first(job.finish) if done else "",
                }
                | quota,
                {},
            )
        if method == "GET" and path == "/videos":
            self.counters["list"] += 1
            new = [
                {
                    "job_id": j.id,
                    "video_url": f"https://cdn.fake/{j.id}.mp4",
                    "created_at": _day_first(j.submitted),
                }
                for j in self.finished_newest_first(now)
            ]
            videos = new + self._codefast_old
            return 200, {"count": len(videos), "videos": videos} | quota, {}
        return 404, {"detail": "Not Found"}, {}

    def soravideo(self, method: str, path: str, body: Any, now: float) -> Answer:
        refused = self.limited(now)
        headers = self.rate_headers(now)
        if refused is not None:
            code, message, wait = refused
            self.counters["refused"] += 1
            envelope = {"code": code, "msg": message, "retryAfter": max(1, round(wait + 0.5))}
            return 429, envelope, headers | {"Retry-After": str(max(1, round(wait + 0.5)))}
        if method == "POST" and path == "/sora2/text-to-video":
            if self.active(now) >= SORAVIDEO_LIMITS["concurrent"]:
                self.counters["refused"] += 1
                return 429, {"code": 2002, "msg": "Concurrent task limit reached"}, headers
            self.counters["submit"] += 1
            job = self.submit(str(body.get("prompt", "")), now)
            headers = self.rate_headers(now)
            data = {"task_id": job.id, "status": "pending"}
            return 200, {"code": 200, "msg": "success", "data": data}, headers
        if method == "GET" and path.startswith("/tasks/"):
            self.counters["status"] += 1
            job = self.jobs.get(path.removeprefix("/tasks/"))
            if job is None:
                return 404, {"code": 404, "msg": "Task not found"}, headers
            status = {"queued": "pending"}.get(job.status(now), job.status(now))
            data = {"task_id": job.id, "status": status, "progress": job.progress(now)}
            data["created_at"] = _iso(job.submitted)
            if status == "completed":
                data |= {"video_url": f"https://cdn.fake/{job.id}.mp4"}
                data |= {"thumbnail_url": f"https://cdn.fake/{job.id}.jpg"}
                data["completed_at"] = _iso(job.finish)
            return 200, {"code": 200, "msg": "success", "data": data}, headers
        return 404, {"code": 404, "msg": "Not found"}, headers

    def openai(
        self, method: str, path: str, query: dict[str, str], body: Any, now: float
    ) -> Answer:
        if method == "POST" and path == "/videos":
            self.counters["submit"] += 1
            job = self.submit(str(body.get("prompt", "")), now)
            return 200, self.video(job, now), {}
        if method == "GET" and path.startswith("/videos/"):
            self.counters["status"] += 1
            job = self.jobs.get(path.removeprefix("/videos/"))
            if job is None:
                error = {"message": "No such video", "type": "invalid_request_error"}
                return 404, {"error": error | {"param": None, "code": None}}, {}
            return 200, self.video(job, now), {}
        if method == "GET" and path == "/videos":
            self.counters["list"] += 1
            return 200, self.video_page(query, now), {}
        return 404, {"error": {"message": "Not found", "type": "invalid_request_error"}}, {}

    def video(self, job: FakeJob, now: float) -> dict[str, Any]:
        status = {"processing": "in_progress"}.get(job.status(now), job.status(now))
        done = status == "completed"
        return {
            "id": job.id,
            "object": "video",
            "model": "sora-2",
            "status": status,
            "progress": 100 if done else job.progress(now),
            "created_at": int(job.submitted),
            "completed_at": int(job.finish) if done else None,
            "size": "1280x720",
            "seconds": "4",
            "error": None,
        }

    def video_page(self, query: dict[str, str], now: float) -> dict[str, Any]:
        # Newest first: this run's videos by submission, newest first, then the history.
        ids: list[str] = [j.id for j in reversed(self.order)] + [v["id"] for v in self.old]
        after = query.get("after")
        begin = ids.index(after) + 1 if after in ids else 0
        limit = max(1, min(100, int(query.get("limit") or 20)))
        page = ids[begin : begin + limit]
        data = [
            self.video(self.jobs[i], now) if i in self.jobs else self.old_video(i) for i in page
        ]
        more = begin + limit < len(ids)
        return {
            "object": "list",
            "data": data,
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
            "has_more": more,
        }

    def old_video(self, video_id: str) -> dict[str, Any]:
        created = int(self.born) - 3600
        return {
            "id": video_id,
            "object": "video",
            "model": "sora-2",
            "status": "completed",
            "progress": 100,
            "created_at": created,
            "completed_at": created + 90,
            "size": "1280x720",
            "seconds": "4",
            "error": None,
        }

    # -- admin ----------------------------------------------------------------------------------

    def admin(self, path: str) -> Any:
        now = time.time()
        if path.endswith("/jobs"):
            return [
                {
                    "id": j.id,
                    "submitted_at": j.submitted,
                    "started_at": j.start if j.start <= now else None,
                    "finished_at": j.finish if j.finish <= now else None,
                }
                for j in self.order
            ]
        total = sum(v for k, v in self.counters.items() if k != "refused")
        total += self.counters["refused"]
        requests = {k: v for k, v in self.counters.items() if k != "refused"}
        if self.counters["refused"]:
            requests["refused (429)"] = self.counters["refused"]
        return {
            "requests": requests,
            "total": total,
            "responses": dict(self.responses),
            "bytes": self.bytes_sent,
        }


@functools.lru_cache(maxsize=4)
def _codefast_old(born: float, history: int) -> list[dict[str, str]]:
    """codefast's listing of the ``history`` old videos (read only; shared by every fake
    born at the same instant, as ``replay.py``'s runs on virtual time all are)."""
    return [
        {
            "job_id": f"old-{i:06d}",
            "video_url": f"https://cdn.fake/old-{i:06d}.mp4",
            "created_at": _day_first(born - 3600 - 60 * i),
        }
        for i in range(history)
    ]


@functools.lru_cache(maxsize=100_000)
def _day_first(unix: float) -> str:
    return datetime.fromtimestamp(unix, tz=UTC).strftime("%d.%m.%Y %H:%M:%S")


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, tz=UTC).isoformat().replace("+00:00", "Z")


def app_for(fake: Fake) -> Any:
    """The ASGI app: JSON in, JSON out."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # served with lifespan="off": nothing else comes
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        query = dict(
            part.split("=", 1) if "=" in part else (part, "")
            for part in scope["query_string"].decode().split("&")
            if part
        )
        headers: dict[str, str] = {}
        if path.startswith(("/_fake/", "/_sim/")):
            status, payload = 200, fake.admin(path)
        else:
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            status, payload, headers = fake.answer(scope["method"], path, query, body)
        content = json.dumps(payload, separators=(",", ":")).encode()
        if not path.startswith(("/_fake/", "/_sim/")):
            fake.responses[str(status)] += 1
            fake.bytes_sent += len(content)
        out: Headers = [(b"content-type", b"application/json")]
        out += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": content})

    return app


async def serve(fake: Fake) -> None:
    config = uvicorn.Config(
        app_for(fake), host="127.0.0.1", port=0, log_level="warning", http="h11", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    prefix = {"codefast": "", "soravideo": "/api/v1", "openai": "/v1"}[fake.provider]
    print(f"Fake ({fake.provider}) ready at http://127.0.0.1:{port}{prefix}", flush=True)
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--provider", choices=("codefast", "soravideo", "openai"), required=True)
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--service", type=float, nargs=2, default=(40.0, 120.0))
    parser.add_argument("--history", type=int, default=0, help="old finished videos listed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fake = Fake(
        provider=args.provider,
        scale=args.time_scale,
        workers=args.workers,
        service=tuple(args.service),
        history=args.history,
        seed=args.seed,
    )
    try:
        asyncio.run(serve(fake))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
