"""Clients for the hostile server, valid answers per provider, and a hard time bound."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import anyio

from sora_async import AsyncSoraClient, Job, JobStatus

__all__ = [
    "JOB_ANSWERS",
    "KEY",
    "PREFIX",
    "PROVIDERS",
    "bounded",
    "client_for",
    "finished_job",
    "other_host",
]

#: The canary: it must never reach another origin, a message, a log line or a file.
KEY = "sk-hostile/canary+5e1f0a"
PROVIDERS = ("codefast", "soravideo", "openai")
PREFIX = {"codefast": "", "soravideo": "/api/v1", "openai": "/v1"}

#: A valid "queued" status answer of each provider, for job id ``j1``.
JOB_ANSWERS: dict[str, Any] = {
    "codefast": {"job_id": "j1", "status": "queued", "queue_position": 1},
    "soravideo": {"code": 200, "msg": "success", "data": {"task_id": "j1", "status": "pending"}},
    "openai": {"id": "j1", "object": "video", "status": "queued", "model": "sora-2"},
}

#: Seconds any one hostile case may take, whatever the server does.
TIME_BOUND = 5.0


def client_for(origin: str, provider: str = "codefast", **options: Any) -> AsyncSoraClient:
    """A client of ``provider`` at the hostile server, with small timeouts and no retries."""
    options.setdefault("timeout", 1.0)
    options.setdefault("max_retries", 0)
    return AsyncSoraClient(
        api_key=KEY, provider=provider, base_url=origin + PREFIX[provider], **options
    )


def finished_job(video_url: str) -> Job:
    """A completed job ``j1`` whose video is at ``video_url``."""
    return Job(id="j1", status=JobStatus.COMPLETED, raw_status="completed", video_url=video_url)


@contextlib.contextmanager
def bounded(seconds: float = TIME_BOUND) -> Iterator[None]:
    """Fail the test if the block runs longer than ``seconds`` (a hang is a failure)."""
    with anyio.fail_after(seconds):
        yield


def other_host() -> str:
    """A second loopback address (127.0.0.2) where the system has one; else 127.0.0.1,
    which differs in port only (still another origin)."""
    try:
        with socket.create_server(("127.0.0.2", 0)):
            return "127.0.0.2"
    except OSError:
        return "127.0.0.1"
