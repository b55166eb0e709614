"""Leaving ``generate_many`` early while a poll answer is on its way: the answer goes nowhere.

The race (seen under load): the loop is left (the item stream closed, the batch cancelled),
and a poll answered before the batch's task saw the cancellation was handed to the closed
stream: ``BrokenResourceError`` in the scheduler's task took the client down at exit.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest
from core_support import eventually, simulated

from sora_async import Job, JobStatus
from sora_async._batch import BatchRunner
from sora_async._scheduler import Listener

pytestmark = pytest.mark.anyio


class HeldPolls:
    """A scheduler stand-in that keeps each job's listener: the test plays the poll answers."""

    def __init__(self) -> None:
        self.followed: dict[str, tuple[Job, Listener]] = {}
        self.dropped: list[str] = []

    def track(self, job: Job, listener: Listener) -> Callable[[], None]:
        self.followed[job.id] = (job, listener)
        return lambda: self.dropped.append(job.id)


async def test_an_answer_on_its_way_when_the_loop_is_left_goes_nowhere() -> None:
    polls = HeldPolls()
    async with simulated("openai") as client, anyio.create_task_group() as group:
        runner = BatchRunner(client=client, scheduler=polls, max_submitting=2)  # type: ignore[arg-type]
        with runner.start(group, ["   ", "a fox"], {}) as items:
            assert (await items.receive()).status == "error"  # the blank prompt
            await eventually(lambda: bool(polls.followed))  # the fox was submitted
            runner.cancel()  # the loop is left, as generate_many's finally does
            assert polls.dropped == list(polls.followed)  # at once, not when the task runs
        ((job, listener),) = polls.followed.values()
        done = job.model_copy(update={"status": JobStatus.COMPLETED, "video_url": "http://v"})
        listener(done, None)  # answered before the batch's task saw the cancellation
