"""The baseline: the soravideo seed's "Async Python with aiohttp" example, on httpx.

The seed's pattern, kept as it is:

* one shared ``httpx.AsyncClient()`` with httpx's defaults (100 connections, 20 kept alive,
  5 s timeouts, the pool timeout included), as a user would write it;
* ``asyncio.gather`` over a submit for every prompt, then ``asyncio.gather`` over a wait loop
  for every task id;
* each wait loop polls its task, then sleeps a fixed 3 s (times the time scale), until the
  task is completed or failed.

What we had to add so that the run finishes and can be measured instead of crashing on the
first error (the seed raises, and one exception would sink the whole ``gather``):

* a submit answered 429 (soravideo's rate or concurrent-task limit) is sent again after the
  same fixed 3 s; any other failed submit is counted and its prompt given up (a timed-out
  submit may have been taken, so it is never resent);
* a failed poll (429, PoolTimeout, timeout, 5xx) is counted and the loop goes on polling.

``max_in_flight`` makes the "bounded" variant: the same code with an ``asyncio.Semaphore``
of httpx's pool size around each request, the one-line fix a user reaches for after the
PoolTimeouts. Without it, thousands of requests queue inside httpx's pool, whose request
assignment walks the whole queue for every request (quadratic: at N=1,000 the event loop is
busy long enough for every connect and pool wait to time out).

A job is "yielded" when its wait loop sees it finished. That is generous to the baseline:
with the seed's code a caller only gets the results once the last ``gather`` returns.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Baseline", "ItemRecord", "wire_for"]

#: (job id, status, real unix time it was yielded, error text)
ItemRecord = tuple[str | None, str, float, str | None]

_SEED_POLL = 3.0  # the seed's fixed sleep between two polls, in seconds
_TERMINAL = ("completed", "failed")


@dataclass(frozen=True)
class Wire:
    """One provider's paths and answers, read the way the seeds' examples read them."""

    submit_path: str
    status_path: str
    headers: dict[str, str]
    body: Callable[[str], dict[str, Any]]
    job_id: Callable[[Any], str]
    status: Callable[[Any], str]
    ok: Callable[[Any], bool]


def _codefast(api_key: str) -> Wire:
    return Wire(
        submit_path="/generate",
        status_path="/status/{id}",
        headers={"X-API-Key": api_key},
        body=lambda prompt: {
            "prompt": prompt,
            "aspect_ratio": "16:9",
            "model": "sora-2-landscape",
        },
        job_id=lambda answer: str(answer["job_id"]),
        status=lambda answer: str(answer["status"]),
        ok=lambda answer: isinstance(answer, dict) and "detail" not in answer,
    )


def _soravideo(api_key: str) -> Wire:
    return Wire(
        submit_path="/sora2/text-to-video",
        status_path="/tasks/{id}",
        headers={"Authorization": f"Bearer {api_key}"},
        body=lambda prompt: {"prompt": prompt, "aspectRatio": "16:9"},
        job_id=lambda answer: str(answer["data"]["task_id"]),
        status=lambda answer: str(answer["data"]["status"]),
        # The seed checks the envelope, not the HTTP status: `if result['code'] != 200`.
        ok=lambda answer: isinstance(answer, dict) and answer.get("code") == 200,
    )


def _openai(api_key: str) -> Wire:
    return Wire(
        submit_path="/videos",
        status_path="/videos/{id}",
        headers={"Authorization": f"Bearer {api_key}"},
        body=lambda prompt: {"prompt": prompt, "model": "sora-2"},
        job_id=lambda answer: str(answer["id"]),
        status=lambda answer: str(answer["status"]),
        ok=lambda answer: isinstance(answer, dict) and answer.get("object") == "video",
    )


def wire_for(provider: str, api_key: str) -> Wire:
    """The baseline's view of ``provider`` (``codefast``, ``soravideo`` or ``openai``)."""
    makers = {"codefast": _codefast, "soravideo": _soravideo, "openai": _openai}
    return makers[provider](api_key)


@dataclass
class Baseline:
    """The seed's gather-and-poll pattern, with its errors counted instead of raised."""

    wire: Wire
    base_url: str
    time_scale: float
    max_in_flight: int | None = None
    items: list[ItemRecord] = field(default_factory=list)  # appended as jobs end
    errors: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    @property
    def poll_interval(self) -> float:
        return _SEED_POLL * self.time_scale

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_in_flight) if self.max_in_flight else None

    async def run(self, prompts: Iterable[str]) -> None:
        """Submit every prompt at once, then wait for every task at once."""
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            task_ids = await asyncio.gather(*(self._submit(http, p) for p in prompts))
            await asyncio.gather(*(self._wait(http, t) for t in task_ids if t is not None))

    async def _submit(self, http: httpx.AsyncClient, prompt: str) -> str | None:
        while True:
            try:
                answer, status_code = await self._send(
                    http, "POST", self.wire.submit_path, json=self.wire.body(prompt)
                )
            except httpx.HTTPError as exc:
                self._failed(exc)
                self.items.append((None, "error", time.time(), type(exc).__name__))
                return None
            if status_code == 429:
                # Not taken (rate or task limit): the only case that is safe to send again.
                self.errors["HTTP 429 (submit)"] += 1
                await asyncio.sleep(self.poll_interval)
                continue
            if status_code != 200 or not self.wire.ok(answer):
                self.errors[f"HTTP {status_code} (submit)"] += 1
                self.items.append((None, "error", time.time(), f"HTTP {status_code}"))
                return None
            return self.wire.job_id(answer)

    async def _wait(self, http: httpx.AsyncClient, task_id: str) -> None:
        path = self.wire.status_path.format(id=task_id)
        while True:
            try:
                answer, status_code = await self._send(http, "GET", path)
            except httpx.HTTPError as exc:
                self._failed(exc)
            else:
                if status_code == 200 and self.wire.ok(answer):
                    status = self.wire.status(answer)
                    if status in _TERMINAL:
                        self.items.append((task_id, status, time.time(), None))
                        return
                else:
                    self.errors[f"HTTP {status_code} (poll)"] += 1
            await asyncio.sleep(self.poll_interval)

    async def _send(
        self, http: httpx.AsyncClient, method: str, path: str, **kwargs: Any
    ) -> tuple[Any, int]:
        self.requests += 1
        if self._slots is None:
            response = await http.request(method, path, headers=self.wire.headers, **kwargs)
        else:
            async with self._slots:
                response = await http.request(method, path, headers=self.wire.headers, **kwargs)
        try:
            return response.json(), response.status_code
        except ValueError:
            return None, response.status_code

    def _failed(self, exc: httpx.HTTPError) -> None:
        self.errors[type(exc).__name__] += 1
