"""The budget seam: what the client, scheduler and batch runner ask of a request budget."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from .._errors import SoraError
from .._models import Job, Quota

__all__ = ["Budget", "Poll", "SharedStateError", "Ticket"]

#: A status request for one job: the job and the server's hint for the next look.
Poll = Callable[[], Awaitable[tuple[Job, float | None]]]


class SharedStateError(SoraError):
    """The shared state (``shared_state="redis://..."``) cannot be reached.

    Raised when the client opens, and mid-run instead of sending anything: without the
    shared budget a request could break the limits other processes keep (fail safe).

    >>> str(SharedStateError("redis://cache:6379 is unreachable"))
    'redis://cache:6379 is unreachable'
    """


class Ticket(Protocol):
    """What became of one reserved submit."""

    def accepted(self, job_id: str, *, counted_by_server: bool) -> None: ...

    def unknown(self) -> None: ...


class Budget(Protocol):
    """A request budget: in this process (:class:`~sora_async._budget.RequestBudget`) or
    shared by every process on one key (:class:`~sora_async.state.RedisBudget`). Callers
    cannot tell which one they hold."""

    @property
    def active_tasks(self) -> int: ...

    @property
    def limits_tasks(self) -> bool: ...

    @property
    def daily_remaining(self) -> int | None: ...

    @property
    def daily_limited(self) -> bool: ...

    async def open(self) -> None:
        """Connect (and check) whatever holds the state; a typed error if it cannot."""

    async def run(self) -> None:
        """Background upkeep while the client is open (lease renewals), until cancelled."""

    async def aclose(self) -> None: ...

    async def admit(self) -> int: ...

    async def observe(self, quota: Quota | None, *, seq: int) -> None:
        """Learn from one answer; never raises (a job id in hand must not be lost)."""

    async def back_off(self, seconds: float) -> None: ...

    async def daily_exhausted(self, reset_at: datetime | None) -> None: ...

    def job_finished(self, job_id: str) -> None: ...

    async def look(self, job_id: str, poll: Poll, *, fresh_for: float) -> tuple[Job, float | None]:
        """One status look at a job: ``poll()``, or a look another process made less than
        ``fresh_for`` seconds ago (shared state), so that processes share one poll stream."""

    def submission(
        self, *, wait_for_task_slot: bool = True
    ) -> AbstractAsyncContextManager[Ticket]: ...
