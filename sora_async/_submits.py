"""The submit path: a reservation, a place on the wire, one request, and the job id.

A submit spends money, so this is where "in doubt" is kept as small as it can be:

* the daily reservation, the task slot, a place among the submits on the wire (at most
  :data:`MAX_SUBMITS_ON_WIRE`, or one), the rate window and a connection are all waited
  for first;
  a submit still waiting for any of them has sent nothing and is simply pending;
* the watcher's ``on_wire`` is called at the last moment before the first byte may leave
  (see :class:`~sora_async._transport.Transport`), and ``on_job`` the moment the answer is
  parsed, before anything else can run;
* from the send to the parsed answer the request is shielded from cancellation: leaving a
  batch early, a timeout around it or a Ctrl-C never drops an answer the server has sent.
  :meth:`Submits.stop` bounds that wait (a graceful stop's grace period).

>>> MAX_SUBMITS_ON_WIRE
4
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import anyio
import httpx

from ._errors import APIConnectionError, APITimeoutError, ResponseParseError, SoraError
from ._models import Job

if TYPE_CHECKING:
    from ._client import AsyncSoraClient

__all__ = ["MAX_SUBMITS_ON_WIRE", "SubmitWatch", "Submits"]

logger = logging.getLogger("sora_async")

#: Submits sent and not yet answered, at once, per client, where the provider's list shows
#: each video's prompt (openai): at most this many can be in doubt after a crash, and the
#: list tells them apart. Elsewhere (codefast, soravideo) one at a time: a submit is one
#: round trip, and the providers' own limits (codefast's 4 workers and 20 a day,
#: soravideo's 3 tasks and 20 requests a minute) are far slower than that, while a single
#: submit in doubt is one the quota count and the list can settle.
MAX_SUBMITS_ON_WIRE = 4


class SubmitWatch(Protocol):
    """Told what became of one submit, at the moments that matter for a journal."""

    def on_wire(self) -> None:
        """The request's bytes may leave now (called again before each resend)."""

    def on_job(self, job: Job) -> None:
        """The server took it: this is its job (called before anything can cancel)."""


class _Attempt:
    def __init__(self, watch: SubmitWatch | None) -> None:
        self.watch = watch
        self.on_wire = False

    def wired(self) -> None:
        self.on_wire = True
        if self.watch is not None:
            self.watch.on_wire()


class Submits:
    """Every submit of one client, and the jobs they made (:meth:`jobs`)."""

    def __init__(self, client: AsyncSoraClient) -> None:
        self._client = client
        bound = MAX_SUBMITS_ON_WIRE if client.provider.lists_prompts else 1
        self._on_wire = anyio.Semaphore(bound)
        self._attempts: dict[anyio.CancelScope, _Attempt] = {}
        self._jobs: dict[str, tuple[int | None, Job]] = {}
        self._stopped = False

    def jobs(self) -> list[tuple[int | None, Job]]:
        """``(prompt index or None, job)`` for every job submitted, in submit order."""
        return list(self._jobs.values())

    def remember(self, job: Job, index: int | None) -> None:
        self._jobs[job.id] = (index, job)

    def updated(self, job: Job, error: SoraError | None) -> None:
        """A scheduler listener: keep the latest state of a job followed for nobody."""
        if job.id in self._jobs:
            self._jobs[job.id] = (self._jobs[job.id][0], job)

    async def send(
        self,
        build: Callable[[], httpx.Request],
        *,
        watch: SubmitWatch | None = None,
        index: int | None = None,
    ) -> Job:
        """Reserve, send under the retry policy, and return the job the server made.

        An answer that cannot be read after the request left is an ambiguous failure:
        :class:`APIConnectionError` with ``maybe_submitted=True``.
        """
        client = self._client
        if self._stopped:
            raise APIConnectionError("the client is stopping: the submit was not sent")
        async with client._budget.submission(wait_for_task_slot=client._follows_jobs) as ticket:
            try:
                job = await client._retry.call(
                    lambda: self._attempt(build, watch, index), submit=True
                )
            except ResponseParseError as exc:
                ticket.unknown()
                raise APIConnectionError(
                    f"the submission's answer could not be read: {exc.message}",
                    maybe_submitted=True,
                ) from exc
            except APIConnectionError as exc:
                if exc.maybe_submitted:
                    ticket.unknown()
                raise
            ticket.accepted(
                job.id, counted_by_server=bool(job.quota and job.quota.daily_remaining is not None)
            )
        return job

    async def _attempt(
        self, build: Callable[[], httpx.Request], watch: SubmitWatch | None, index: int | None
    ) -> Job:
        client = self._client
        async with self._on_wire:
            if self._stopped:
                raise APIConnectionError("the client is stopping: the submit was not sent")
            client._check_open()
            seq = await client._budget.admit()
            attempt = _Attempt(watch)
            # Shielded: once this request may be on the wire, its answer is read whatever
            # is cancelled around it. The transport's deadline bounds it; stop() shortens it.
            with anyio.CancelScope(shield=True) as scope:
                self._attempts[scope] = attempt
                try:
                    answer = await client._transport.send(
                        build(), submit=True, on_wire=attempt.wired
                    )
                    await client._learn(answer, seq)
                    if answer.error is not None:
                        raise answer.error
                    job = client._job_from(answer.payload, answer.response)
                    self.remember(job, index)
                    if watch is not None:
                        watch.on_job(job)
                    logger.info("submitted job %s (%s)", job.id, job.raw_status)
                    return job
                finally:
                    del self._attempts[scope]
        raise APITimeoutError(
            "the submit was cut off: the client was stopping",
            maybe_submitted=attempt.on_wire,
        )

    def stop(self, *, grace: float) -> None:
        """Send no new submit; give those on the wire ``grace`` seconds to be answered.

        A submit that has not reached the wire yet is dropped at once (nothing was sent).
        """
        self._stopped = True
        deadline = anyio.current_time() + grace
        for scope, attempt in list(self._attempts.items()):
            if attempt.on_wire:
                scope.deadline = min(scope.deadline, deadline)
            else:
                scope.cancel()

    @property
    def on_wire(self) -> int:
        """How many submits are being sent or answered right now."""
        return sum(attempt.on_wire for attempt in self._attempts.values())
