"""Settle submits in doubt from the provider's own records, before anything is resent.

A submit is in doubt when its bytes may have left and no answer was read (the process was
killed, or the answer was lost). The journal knows when each one went out and the daily
quota last seen before it; the provider's records say the rest, as far as its protocol
allows:

* **openai** lists every video with its ``prompt`` and ``created_at``: a video that no row of
  the journal knows, with the same prompt, made while that submit was out, is adopted. A
  submit with no such video on the list never arrived: it is sent again (it cost nothing).
* **codefast** lists finished videos (``job_id``, ``created_at``) and every answer carries
  ``daily_limit_remaining``: the quota before the submits and the quota now tell how many
  of the submits in doubt the server counted. None counted: they are sent again. Some: a
  listed video matching one of them alone (by time) is adopted; the rest are reported with
  the count and the candidate prompts.
* **soravideo** keeps no list: nothing can be checked, and only ``resubmit_unknown``
  (``--resubmit-unknown``) sends them again.

What cannot be settled stays in doubt, with the reason in words; it is never resent
unless asked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._models import Job, JobStatus, Video

if TYPE_CHECKING:
    from ._client import AsyncSoraClient
    from ._journal import Doubt

__all__ = ["DoubtJournal", "listed_job", "settle_doubts"]

logger = logging.getLogger("sora_async")

#: How far the server's clock may be from ours when matching times (seconds).
CLOCK_SKEW = 10.0
_RESEND = "Only --resubmit-unknown sends them again, and that may pay for them twice"
#: Pages of the provider's list read, at most, to find the submits in doubt.
MAX_PAGES = 10


@runtime_checkable
class DoubtJournal(Protocol):
    """What a journal offers for settling doubt (:class:`~sora_async._journal.Journal`)."""

    def in_doubt(self) -> list[Doubt]: ...

    def job_ids(self) -> set[str]: ...

    def quotas_seen(self) -> list[tuple[datetime | None, int | None, int | None]]: ...

    def adopt(self, doubt: Doubt, job: Job) -> None: ...

    def not_sent(self, doubt: Doubt) -> None: ...

    def still_in_doubt(self, doubt: Doubt, reason: str) -> None: ...


@dataclass(frozen=True)
class _Count:
    """How many of the submits in doubt the server counted, or why that is unknown."""

    counted: int | None
    why: str


async def settle_doubts(client: AsyncSoraClient, journal: DoubtJournal) -> set[int]:
    """Adopt, free or explain every submit in doubt of an earlier run.

    Returns the prompts worth asking about again later: the server counted them, but its
    list (codefast: finished videos only) does not show them yet.
    """
    doubts = journal.in_doubt()
    if not doubts:
        return set()
    provider = client.provider
    if not provider.can_list:
        reason = (
            f"{provider.name} keeps no list of jobs, so whether the server took them cannot "
            f"be checked. {_RESEND}"
        )
        for doubt in doubts:
            journal.still_in_doubt(doubt, reason)
        return set()
    known = journal.job_ids()
    since = min((d.sent_at for d in doubts if d.sent_at), default=None)
    listed = [video for video in await _listing(client, since) if video.id not in known]
    lists_prompts = provider.lists_prompts or any(video.prompt is not None for video in listed)
    unsettled = _adopt_unique(journal, doubts, listed, timeout=_timeout(client))
    if not unsettled:
        return set()
    if lists_prompts:
        # The list shows every video, finished or not, with its prompt: one not on it
        # never reached the server.
        for doubt in unsettled:
            if not any(_fits(doubt, video, _timeout(client)) for video in listed):
                logger.info("prompt %d: not on the server's list; it will be sent", doubt.index)
                journal.not_sent(doubt)
            else:
                journal.still_in_doubt(doubt, _ambiguous(doubt, listed, _timeout(client)))
        return set()
    count = _count(journal, client, unsettled, adopted=len(doubts) - len(unsettled))
    if count.counted == 0:
        for doubt in unsettled:
            logger.info("prompt %d: the server did not count it; it will be sent", doubt.index)
            journal.not_sent(doubt)
        return set()
    prompts = ", ".join(str(doubt.index) for doubt in unsettled)
    if count.counted is None:
        reason = f"{count.why}; candidates: prompts {prompts}. {_RESEND}"
    else:
        reason = (
            f"the server counted {count.counted} of these {len(unsettled)} submits in doubt "
            f"({count.why}); candidates: prompts {prompts}. Not on its list of finished "
            f"videos yet: run again once they finish (see `sora-async list`). {_RESEND}"
        )
    for doubt in unsettled:
        journal.still_in_doubt(doubt, reason)
    # Counted, or not countable: the list may show them once they finish.
    return {doubt.index for doubt in unsettled}


async def _listing(client: AsyncSoraClient, since: datetime | None) -> list[Video]:
    """The provider's newest videos, back to ``since`` (with a margin for clocks)."""
    horizon = since - timedelta(seconds=CLOCK_SKEW) if since else None
    videos: list[Video] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page, _ = await client._list_page(cursor, 100)
        videos.extend(page.videos)
        cursor = page.next_cursor
        oldest = [v.created_at for v in page.videos if v.created_at is not None]
        if cursor is None or (horizon and oldest and min(oldest) < horizon):
            break
    return videos


def _timeout(client: AsyncSoraClient) -> float:
    return client._transport._caps.timeout


def _fits(doubt: Doubt, video: Video, timeout: float) -> bool:
    """Whether ``video`` may be what this submit made (its prompt, and made while it was out)."""
    if video.prompt is not None and video.prompt != doubt.prompt:
        return False
    if doubt.sent_at is None or video.created_at is None:
        return True
    start = doubt.sent_at - timedelta(seconds=CLOCK_SKEW)
    end = doubt.sent_at + timedelta(seconds=timeout + CLOCK_SKEW)
    return start <= video.created_at <= end


def _adopt_unique(
    journal: DoubtJournal, doubts: Sequence[Doubt], listed: Sequence[Video], *, timeout: float
) -> list[Doubt]:
    """Adopt each video that fits one submit in doubt alone, which it alone fits; returns
    the submits left in doubt."""
    left = list(doubts)
    free = list(listed)
    changed = True
    while changed:
        changed = False
        for doubt in list(left):
            mine = [video for video in free if _fits(doubt, video, timeout)]
            if len(mine) != 1:
                continue
            video = mine[0]
            if any(_fits(other, video, timeout) for other in left if other is not doubt):
                continue
            logger.info("prompt %d: adopted job %s from the server's list", doubt.index, video.id)
            journal.adopt(doubt, listed_job(video))
            left.remove(doubt)
            free.remove(video)
            changed = True
    return left


def listed_job(video: Video) -> Job:
    """A listed video as a job state: everything the list says (openai lists whole videos).

    A status the list does not give (codefast) is learned from the job's first poll.
    """
    status = video.status or JobStatus.PROCESSING
    return Job(
        id=video.id,
        status=status,
        raw_status=status.value,
        progress=video.progress,
        video_url=video.video_url,
        error=video.error,
        created_at=video.created_at,
        completed_at=video.completed_at,
    )


def _ambiguous(doubt: Doubt, listed: Sequence[Video], timeout: float) -> str:
    ids = [video.id for video in listed if _fits(doubt, video, timeout)]
    return (
        f"{len(ids)} videos on the server's list could be prompt {doubt.index}'s "
        f"({', '.join(ids[:5])}{'…' if len(ids) > 5 else ''}). {_RESEND}"
    )


def _count(
    journal: DoubtJournal, client: AsyncSoraClient, unsettled: Sequence[Doubt], *, adopted: int
) -> _Count:
    """How many unsettled submits in doubt the daily quota says the server counted.

    ``before`` is the highest quota known before any of the journal's submits of the day;
    each submit the server counted since lowered it by one. Those answered are known; the
    adopted ones are among the counted; the rest of the fall is the unsettled submits'.
    """
    now_left = client.quota.daily_remaining
    seen = journal.quotas_seen()
    if now_left is None or not seen:
        return _Count(None, f"{client.provider.name} reported no daily quota to count by")
    today = datetime.now(UTC).date()
    if any(doubt.sent_at is None or doubt.sent_at.date() != today for doubt in unsettled):
        return _Count(None, "the submits in doubt were sent on another day: cannot count")
    seen = [row for row in seen if row[0] is not None and row[0].date() == today]
    befores = [before for _, before, after in seen if after is None]
    if any(before is None for before in befores):
        return _Count(None, "the daily quota before the first submit is not known: cannot count")
    answered = [after for _, _, after in seen if after is not None]
    known = [value for value in befores if value is not None] + [a + 1 for a in answered]
    before = max(known)
    fell = before - now_left
    counted = fell - len(answered) - adopted
    if counted < 0:
        return _Count(None, "the daily quota went up since (a new day, or another client)")
    why = (
        f"daily quota {before} before them, {now_left} now, {len(answered)} answered; "
        "assuming no other client used this key meanwhile"
    )
    return _Count(counted, why)
