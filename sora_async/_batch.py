"""The results aggregator: stream prompts in, submit a bounded number at once, and hand out
a :class:`BatchItem` for each as it ends.

Prompts are read lazily (a million-line file is never held in memory), submissions in
flight are bounded, unfinished jobs are bounded, and finished jobs come from the client's
shared poll scheduler. A bad item never raises: failures, errors and quota skips are items.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import Counter
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._doubt import DoubtJournal, settle_doubts
from ._errors import APIConnectionError, DailyLimitError, SoraError
from ._models import BatchItem, BatchStatus, GenerationRequest, Job, JobStatus, Quota
from ._requests import make_request

if TYPE_CHECKING:
    from ._client import AsyncSoraClient
    from ._scheduler import PollScheduler

__all__ = [
    "BatchJournal",
    "BatchProgress",
    "BatchRunner",
    "ProgressCallback",
    "PromptSource",
    "Recall",
]

logger = logging.getLogger("sora_async")

Prompt = str | GenerationRequest
#: How many times a submit in doubt the server counted is looked for on its list again.
_HELD_TRIES = 10
PromptSource = Iterable[Prompt] | AsyncIterable[Prompt]


@dataclass(frozen=True)
class BatchProgress:
    """A snapshot for a progress display, sent on every change."""

    read: int
    submitting: int
    queued: int
    processing: int
    completed: int
    failed: int
    skipped: int
    errors: int
    source_done: bool
    requests_sent: int
    quota: Quota
    queue_positions: tuple[int, ...] = field(default=())

    @property
    def finished(self) -> int:
        return self.completed + self.failed + self.skipped + self.errors


ProgressCallback = Callable[[BatchProgress], None]


@dataclass(frozen=True)
class Recall:
    """What a journal remembers of one prompt from an earlier run."""

    item: BatchItem | None = None  # it ended: hand it out again, with no request
    job: Job | None = None  # it was submitted: follow this job, never submit again
    unknown: str | None = None  # a submit whose outcome is unknown: why
    # Another live worker of a shared run has it: await what it became (never submitted
    # while that worker lives; its row once it died).
    elsewhere: Callable[[], Awaitable[Recall | None]] | None = None


class BatchJournal(Protocol):
    """Durable memory of a batch, so that a re-run resumes instead of resubmitting.

    Every call is made before the batch moves on: ``intent`` at the last moment before a
    submit's bytes may leave (with the daily quota ``remaining`` as last seen) and
    ``submitted`` the moment the server's answer is parsed.
    """

    def recall(self, index: int, request: GenerationRequest) -> Recall | None: ...

    def intent(
        self, index: int, request: GenerationRequest, *, remaining: int | None = None
    ) -> None: ...

    def submitted(self, index: int, job: Job) -> None: ...

    def unknown(self, index: int, reason: str) -> None: ...

    def updated(self, index: int, job: Job) -> None: ...

    def ended(self, item: BatchItem) -> None: ...


class BatchRunner:
    """One batch run. :meth:`start` returns the stream its items arrive on."""

    def __init__(
        self,
        *,
        client: AsyncSoraClient,
        scheduler: PollScheduler,
        max_submitting: int,
        max_unfinished: int = 10_000,
        on_progress: ProgressCallback | None = None,
        journal: BatchJournal | None = None,
        resubmit_unknown: bool = False,
    ) -> None:
        self._client = client
        self._journal = journal
        self._resubmit_unknown = resubmit_unknown
        self._scheduler = scheduler
        self._submit_slots = anyio.Semaphore(max(1, max_submitting))
        self._unfinished_slots = anyio.Semaphore(max(1, max_unfinished))
        self._on_progress = on_progress
        self._scope = anyio.CancelScope()
        self._untrack: dict[str, Callable[[], None]] = {}
        self._status: dict[str, JobStatus] = {}
        self._positions: dict[str, int] = {}
        self._counts: Counter[str] = Counter()
        self._read = 0
        self._submitting = 0
        self._source_done = False
        self._daily_spent: DailyLimitError | None = None
        self._send: MemoryObjectSendStream[BatchItem] | None = None
        self._outstanding = 0  # read but not yet handed out
        self._all_ended = anyio.Event()
        # Every job of this batch the caller has not been handed yet: index -> job.
        self._unclaimed: dict[int, Job] = {}
        self._released = False
        # Submits in doubt the server counted but does not list yet: asked again at the end.
        self._awaiting: set[int] = set()
        self._held: dict[int, GenerationRequest] = {}
        self._group: anyio.abc.TaskGroup | None = None
        # One settling at a time: two at once could each judge the other's adoption anew.
        self._settling = anyio.Lock()

    def start(
        self, group: anyio.abc.TaskGroup, prompts: PromptSource, params: dict[str, Any]
    ) -> MemoryObjectReceiveStream[BatchItem]:
        send, receive = anyio.create_memory_object_stream[BatchItem](math.inf)
        self._send = send
        group.start_soon(self._run, prompts, params)
        return receive

    def cancel(self) -> None:
        """Stop submitting and polling for this batch (safe from any task)."""
        self._scope.cancel()
        self._stop_following()  # now, not when this batch's task next runs

    def claim(self, item: BatchItem) -> None:
        """The caller has this item (and so its job id)."""
        self._unclaimed.pop(item.index, None)

    def release(self) -> None:
        """The caller is done with this batch: stop it, and hand every job the caller was
        not given to the client, which follows it until it closes and names it once in a
        WARNING (a submit still on the wire is named when its answer comes)."""
        self.cancel()
        self._released = True
        for index, job in sorted(self._unclaimed.items()):
            self._abandon(index, job)
        self._unclaimed.clear()

    def _abandon(self, index: int, job: Job) -> None:
        # With a journal the job is on record already: no need to shout.
        level = logging.INFO if self._journal is not None else logging.WARNING
        logger.log(
            level,
            "the batch ended early: prompt %d is job %s on the server (%s); the client "
            "follows it until it closes, and client.submitted_jobs() lists it",
            index,
            job.id,
            job.status.value,
        )
        self._client._keep_following(self._client.tracked_job(job.id) or job)

    async def _run(self, prompts: PromptSource, params: dict[str, Any]) -> None:
        assert self._send is not None
        try:
            with self._scope:
                async with self._send, anyio.create_task_group() as group:
                    self._group = group
                    await self._settle_doubts()
                    index = 0
                    async for prompt in _aiter(prompts):
                        self._read += 1
                        self._outstanding += 1
                        await self._unfinished_slots.acquire()
                        await self._submit_slots.acquire()
                        self._submitting += 1
                        group.start_soon(self._submit, index, prompt, params)
                        index += 1
                    self._source_done = True
                    self._progress()
                    if self._held:
                        await self._settle_held(group, params)
                    if self._outstanding == 0:
                        self._all_ended.set()
                    await self._all_ended.wait()
        finally:
            # However the batch ends (done, left early, cancelled from outside), stop
            # following its jobs.
            self._stop_following()

    async def _settle_doubts(self) -> None:
        """Ask the provider's records about an earlier run's submits in doubt first."""
        if not isinstance(self._journal, DoubtJournal):
            return
        try:
            async with self._settling:
                self._awaiting = await settle_doubts(self._client, self._journal)
        except SoraError as error:
            # They stay in doubt (never resent unless asked); the run goes on.
            logger.warning("could not check the submits in doubt: %s", error)
            self._awaiting = set()

    async def _settle_held(self, group: anyio.abc.TaskGroup, params: dict[str, Any]) -> None:
        """Ask again, a few times, about submits the server counted but did not list yet
        (codefast lists a video once it is finished); then hand each one on."""
        gap = self._client._max_poll_interval
        for _ in range(_HELD_TRIES):
            await anyio.sleep(gap)
            if self._submitting:
                continue  # this run's own submits must be answered before quotas are counted
            await self._settle_doubts()
            if not self._held.keys() & self._awaiting:
                break
        self._awaiting = set()
        for index, request in sorted(self._held.items()):
            # Adopted: followed; never arrived: submitted; still in doubt: reported.
            await self._submit_slots.acquire()
            self._submitting += 1
            group.start_soon(self._submit, index, request, params)
        self._held.clear()

    def _stop_following(self) -> None:
        for untrack in list(self._untrack.values()):
            untrack()
        self._untrack.clear()

    async def _submit(
        self, index: int, prompt: Prompt, params: dict[str, Any], *, recall: Recall | None = None
    ) -> None:
        request: GenerationRequest | None = None
        try:
            request = make_request(prompt, params)
            if self._resume(index, request, recall):
                return
            if self._daily_spent is not None:
                raise self._daily_spent
            await self._client._submit(request, index=index, watch=_Watch(self, index, request))
        except DailyLimitError as error:
            self._daily_spent = error
            self._emit(index, prompt, request, "skipped", error=_skip_reason(error), reset=error)
        except SoraError as error:
            text = _error_text(error)
            if self._journal is not None and request is not None and _maybe_submitted(error):
                self._journal.unknown(index, text)
            self._emit(index, prompt, request, "error", error=text)
        finally:
            self._submitting -= 1
            self._submit_slots.release()

    def _resume(self, index: int, request: GenerationRequest, recall: Recall | None = None) -> bool:
        """Pick up what an earlier run (or a worker that died) left; ``True`` when nothing is
        to be submitted now."""
        if recall is None and self._journal is not None:
            recall = self._journal.recall(index, request)
        if recall is None:
            return False
        if recall.elsewhere is not None:
            assert self._group is not None
            self._group.start_soon(self._elsewhere, index, request, recall.elsewhere)
        elif recall.item is not None:
            self._hand_out(recall.item)
        elif recall.job is not None:
            self._follow(index, request, recall.job)
        elif recall.unknown is not None and index in self._awaiting:
            self._held[index] = request  # the server counted it: asked again at the end
        elif recall.unknown is not None and not self._resubmit_unknown:
            text = f"{recall.unknown} [submission outcome unknown: not resent]"
            self._emit(index, request, request, "error", error=text)
        else:
            return False
        return True

    async def _elsewhere(
        self,
        index: int,
        request: GenerationRequest,
        wait: Callable[[], Awaitable[Recall | None]],
    ) -> None:
        """Another worker of a shared run has this prompt: wait for its line, or take over
        what it left when it died (a submit it may have sent is settled or reported first)."""
        recall = await wait()
        if recall is not None and recall.unknown is not None and index not in self._awaiting:
            awaiting = self._awaiting
            await self._settle_doubts()  # adopt it from the provider's records, if they can
            self._awaiting |= awaiting
            if self._journal is not None:
                recall = self._journal.recall(index, request)
        await self._submit_slots.acquire()
        self._submitting += 1
        await self._submit(index, request, {}, recall=recall or _SUBMIT)

    def submitted(self, index: int, request: GenerationRequest, job: Job) -> None:
        """The server took prompt ``index``: record it, then follow it (or, once the caller
        has left, hand it to the client)."""
        if self._journal is not None:
            self._journal.submitted(index, job)
        if self._released:
            self._abandon(index, job)
        else:
            self._follow(index, request, job)

    def _follow(self, index: int, request: GenerationRequest, job: Job) -> None:
        self._unclaimed[index] = job
        self._status[job.id] = job.status
        self._progress()

        def listener(state: Job, error: SoraError | None) -> None:
            if error is not None:
                # The job id is kept: the item says why tracking stopped.
                self._done(job.id)
                self._emit(index, request, request, "error", job=state, error=_error_text(error))
            elif state.is_terminal:
                self._done(job.id)
                self._client._submits.updated(state, None)
                status: BatchStatus = (
                    "completed" if state.status is JobStatus.COMPLETED else "failed"
                )
                self._emit(index, request, request, status, job=state, error=state.error)
            else:
                self._unclaimed[index] = state
                self._status[job.id] = state.status
                if self._journal is not None:
                    self._journal.updated(index, state)
                if state.queue_position:
                    self._positions[job.id] = state.queue_position
                self._progress()

        if job.is_terminal:
            listener(job, None)
        else:
            self._untrack[job.id] = self._scheduler.track(job, listener)

    def _done(self, job_id: str) -> None:
        untrack = self._untrack.pop(job_id, None)
        if untrack is not None:
            untrack()
        self._status.pop(job_id, None)
        self._positions.pop(job_id, None)

    def _emit(
        self,
        index: int,
        prompt: Prompt,
        request: GenerationRequest | None,
        status: BatchStatus,
        *,
        job: Job | None = None,
        error: str | None = None,
        reset: DailyLimitError | None = None,
    ) -> None:
        if request is None:
            # The prompt was invalid: keep what the user gave, unvalidated, in the item.
            text = prompt.prompt if isinstance(prompt, GenerationRequest) else str(prompt)
            request = GenerationRequest.model_construct(prompt=text)
        item = BatchItem(
            index=index,
            request=request,
            status=status,
            job=job,
            video_url=job.video_url if job and status == "completed" else None,
            error=error,
            reset_at=reset.reset_at if reset else None,
        )
        if self._journal is not None:
            self._journal.ended(item)
        self._hand_out(item)

    def _hand_out(self, item: BatchItem) -> None:
        self._counts[item.status] += 1
        self._unfinished_slots.release()
        self._outstanding -= 1
        if self._source_done and self._outstanding == 0:
            self._all_ended.set()
        assert self._send is not None
        # The consumer may have left (generate_many's loop ended) with a poll answer on its
        # way that this batch's task could not stop: nobody wants the item.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._send.send_nowait(item)
        self._progress()

    def _progress(self) -> None:
        if self._on_progress is None:
            return
        try:
            self._on_progress(self._snapshot())
        except Exception:
            # A display's bug must not stop the batch (or the scheduler calling us).
            logger.exception("on_progress callback failed; progress updates stop")
            self._on_progress = None

    def _snapshot(self) -> BatchProgress:
        statuses = Counter(self._status.values())
        return BatchProgress(
            read=self._read,
            submitting=self._submitting,
            queued=statuses[JobStatus.QUEUED],
            processing=statuses[JobStatus.PROCESSING],
            completed=self._counts["completed"],
            failed=self._counts["failed"],
            skipped=self._counts["skipped"],
            errors=self._counts["error"],
            source_done=self._source_done,
            requests_sent=self._client.requests_sent,
            quota=self._client.quota,
            queue_positions=tuple(sorted(self._positions.values())[:5]),
        )


class _Watch:
    """One prompt's submit, told to the journal at the moments that count."""

    def __init__(self, runner: BatchRunner, index: int, request: GenerationRequest) -> None:
        self._runner = runner
        self._index = index
        self._request = request

    def on_wire(self) -> None:
        journal = self._runner._journal
        if journal is not None:
            remaining = self._runner._client.quota.daily_remaining
            journal.intent(self._index, self._request, remaining=remaining)

    def on_job(self, job: Job) -> None:
        self._runner.submitted(self._index, self._request, job)


#: A recall that asks for nothing to be resumed: submit the prompt.
_SUBMIT = Recall()


async def _aiter(prompts: PromptSource) -> AsyncIterable[Prompt]:
    if isinstance(prompts, AsyncIterable):
        async for prompt in prompts:
            yield prompt
    else:
        for prompt in prompts:
            yield prompt
            await anyio.lowlevel.checkpoint()


def _skip_reason(error: DailyLimitError) -> str:
    when = f"; resets {error.reset_at.isoformat()}" if error.reset_at else ""
    return f"skipped: daily limit reached{when}"


def _maybe_submitted(error: SoraError) -> bool:
    return isinstance(error, APIConnectionError) and error.maybe_submitted


def _error_text(error: SoraError) -> str:
    text = f"{type(error).__name__}: {error}"
    return text + " [submission outcome unknown]" if _maybe_submitted(error) else text
