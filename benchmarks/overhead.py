"""The SDK's CPU per request against raw httpx, same server, same concurrency (issue 11.5).

    .venv/bin/python benchmarks/overhead.py                 # 2,000 status polls a round
    .venv/bin/python benchmarks/overhead.py --requests 500 --rounds 2

One fake codefast server (``_fake.py``, its own process) and one finished job on it. In this
process, rounds alternate between two clients, each sending ``--requests`` status requests
for that job from ``--concurrency`` tasks at once over one connection pool of that size:

* **raw httpx**: ``httpx.AsyncClient`` with the same pool, ``GET /status/{id}`` with the key
  header, ``response.json()`` and a check of ``status``: the least any client must do;
* **sdk**: ``AsyncSoraClient.get_job(id)``: the request budget, the transport's caps and
  redaction, the retry policy, parsing into a ``Job`` and the quota it carries.

The figure is the client's CPU (``time.process_time``, user + system of this process only)
per request, the median over the rounds, and the ratio sdk / raw: the median of each
round's pair (run back to back, each first in turn), since the machine's load drifts
between rounds. Target: at most 1.15.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx
from _server import FakeServer

API_KEY = "bench"
TARGET = 1.15


async def cpu_per_request(
    send: Callable[[], Awaitable[None]], *, requests: int, concurrency: int
) -> float:
    """CPU seconds per request for ``requests`` calls of ``send`` from ``concurrency`` tasks."""
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await send()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - started) / requests


async def raw_round(url: str, job_id: str, *, requests: int, concurrency: int) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as http:

        async def send() -> None:
            response = await http.get(f"/status/{job_id}", headers={"X-API-Key": API_KEY})
            response.raise_for_status()
            assert response.json()["status"] == "completed"

        await send()  # the connection is open before the count starts, as for the SDK
        return await cpu_per_request(send, requests=requests, concurrency=concurrency)


async def sdk_round(url: str, job_id: str, *, requests: int, concurrency: int) -> float:
    from sora_async import AsyncSoraClient

    client = AsyncSoraClient(
        provider="codefast", base_url=url, api_key=API_KEY, max_connections=concurrency
    )
    async with client:

        async def send() -> None:
            job = await client.get_job(job_id)
            assert job.status == "completed"

        await send()
        return await cpu_per_request(send, requests=requests, concurrency=concurrency)


def finished_job(url: str) -> str:
    """Submit one job and wait until the fake says it is completed."""
    headers = {"X-API-Key": API_KEY}
    answer = httpx.post(f"{url}/generate", json={"prompt": "overhead"}, headers=headers).json()
    job_id = str(answer["job_id"])
    while httpx.get(f"{url}/status/{job_id}", headers=headers).json()["status"] != "completed":
        time.sleep(0.02)
    return job_id


async def measure(url: str, job_id: str, args: argparse.Namespace) -> dict[str, list[float]]:
    rounds: dict[str, list[float]] = {"raw httpx": [], "sdk": []}
    clients = [("raw httpx", raw_round), ("sdk", sdk_round)]
    for _ in range(args.rounds):  # back to back, so that a busy moment hits both...
        for name, run in clients:
            cost = await run(url, job_id, requests=args.requests, concurrency=args.concurrency)
            rounds[name].append(cost)
        clients.reverse()  # ...and neither always goes first
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="requests a round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=8, help="tasks and pool size")
    args = parser.parse_args()
    with FakeServer(provider="codefast", time_scale=0.001, workers=1, service=(1.0, 1.0)) as server:
        job_id = finished_job(server.url)
        rounds = asyncio.run(measure(server.url, job_id, args))
    # Each round's pair compared on its own: the machine's load drifts between rounds.
    ratio = statistics.median(
        sdk / raw for raw, sdk in zip(rounds["raw httpx"], rounds["sdk"], strict=True)
    )
    print(f"{args.requests:,} status requests a round, {args.concurrency} at once, ", end="")
    print(f"{args.rounds} rounds each, in turn first (median):")
    for name, values in rounds.items():
        shown = ", ".join(f"{v * 1e6:.0f}" for v in values)
        print(f"  {name:10} {statistics.median(values) * 1e6:6.0f} us CPU a request ({shown})")
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"  ratio      {ratio:.2f}x, the median of the rounds' (target <= {TARGET}x: {verdict})")


if __name__ == "__main__":
    main()
