"""The SQLite journal: what it remembers, what it hands back, and what it never resends."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sora_async import AsyncSoraClient, BatchItem, GenerationRequest, Job, JobStatus
from sora_async._journal import Journal, JournalError, request_hash

TARGET = "codefast http://127.0.0.1:9"


def request(prompt: str, **params: object) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, **params)  # type: ignore[arg-type]


def job(job_id: str, status: JobStatus = JobStatus.QUEUED, **fields: object) -> Job:
    return Job(id=job_id, status=status, raw_status=status.value, **fields)  # type: ignore[arg-type]


def reopen(path: Path) -> Journal:
    return Journal(path, target=TARGET)


def test_an_intent_without_a_job_id_is_recalled_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with reopen(path) as journal:
        journal.recall(0, request("a fox"))
        journal.intent(0, request("a fox"))
    # The process "died" here: no job id was written.
    with reopen(path) as journal:
        recall = journal.recall(0, request("a fox"))
        assert recall is not None and recall.unknown and "stopped between" in recall.unknown
        # The batch reports it as an error item; it must stay unknown, not become resendable.
        journal.ended(BatchItem(index=0, request=request("a fox"), status="error", error="x"))
        assert [u.index for u in journal.unknown_submits()] == [0]
    with reopen(path) as journal:
        recall = journal.recall(0, request("a fox"))
        assert recall is not None and recall.unknown


def test_a_submitted_job_is_followed_again_and_an_ended_one_handed_back(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    queued = job("job-1", queue_position=3, created_at=datetime(2025, 9, 20, tzinfo=UTC))
    with reopen(path) as journal:
        journal.recall(0, request("a fox"))
        journal.intent(0, request("a fox"))
        journal.submitted(0, queued)
        journal.updated(0, job("job-1", JobStatus.PROCESSING))
    with reopen(path) as journal:
        recall = journal.recall(0, request("a fox"))
        assert recall is not None and recall.job is not None
        assert recall.job.id == "job-1" and recall.job.status is JobStatus.PROCESSING
        done = job("job-1", JobStatus.COMPLETED, video_url="https://x/v.mp4")
        item = BatchItem(
            index=0,
            request=request("a fox"),
            status="completed",
            job=done,
            video_url=done.video_url,
        )
        journal.ended(item)
    with reopen(path) as journal:
        recall = journal.recall(0, request("a fox"))
        assert recall is not None and recall.item is not None
        assert recall.item.status == "completed"
        assert recall.item.video_url == "https://x/v.mp4" and recall.item.job == done


def test_skipped_and_unsent_errors_are_submitted_again(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    reset = datetime(2030, 1, 1, tzinfo=UTC)
    with reopen(path) as journal:
        journal.recall(0, request("a"))
        journal.ended(BatchItem(index=0, request=request("a"), status="skipped", reset_at=reset))
        journal.recall(1, request("b"))
        journal.intent(1, request("b"))
        # Refused by the server: provably not created.
        journal.ended(BatchItem(index=1, request=request("b"), status="error", error="HTTP 422"))
        assert journal.counts() == {"skipped": 1, "error": 1}
    with reopen(path) as journal:
        assert journal.recall(0, request("a")) is None
        assert journal.recall(1, request("b")) is None


def test_an_error_with_a_job_id_keeps_following_the_job(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with reopen(path) as journal:
        journal.recall(0, request("a"))
        journal.intent(0, request("a"))
        journal.submitted(0, job("job-9"))
        journal.ended(
            BatchItem(index=0, request=request("a"), status="error", job=job("job-9"), error="x")
        )
    with reopen(path) as journal:
        recall = journal.recall(0, request("a"))
        assert recall is not None and recall.job is not None and recall.job.id == "job-9"


def test_an_edited_prompt_is_a_new_prompt_and_a_moved_one_is_found(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with reopen(path) as journal:
        for index, text in enumerate(["a", "b"]):
            journal.recall(index, request(text))
            journal.intent(index, request(text))
            journal.submitted(index, job(f"job-{text}"))
    with reopen(path) as journal:
        # Same text, other parameters: another request, so another prompt.
        assert journal.recall(0, request("a", aspect_ratio="9:16")) is None
        # "b" moved from 1 to 2 (a line was added above it): its job is followed, not resent.
        recall = journal.recall(2, request("b"))
        assert recall is not None and recall.job is not None and recall.job.id == "job-b"
        assert journal.moved == 1
        [left] = journal.unmatched()
        assert (left.index, left.prompt, left.job_id) == (0, "a", "job-a")


def test_two_identical_prompts_keep_their_own_jobs(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with reopen(path) as journal:
        for index in (0, 1):
            journal.recall(index, request("same"))
            journal.intent(index, request("same"))
            journal.submitted(index, job(f"job-{index}"))
    with reopen(path) as journal:
        # A new line at the top: both move down by one, each keeps one job.
        ids = set()
        for index in (1, 2):
            recall = journal.recall(index, request("same"))
            assert recall is not None and recall.job is not None
            ids.add(recall.job.id)
        assert ids == {"job-0", "job-1"}
        assert journal.recall(3, request("same")) is None


def test_the_request_hash_covers_parameters_not_defaults() -> None:
    assert request_hash(request("a")) == request_hash(request("a", pro=False))
    assert request_hash(request("a")) != request_hash(request("a", pro=True))
    assert request_hash(request("a", image=b"\x00\x01")) != request_hash(
        request("a", image=b"\x02")
    )


def test_the_journal_is_wal_and_refuses_another_service(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path, target=TARGET).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(JournalError, match="belongs to another service"):
        Journal(path, target="soravideo https://soravideo.art/api/v1")


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("just some text, not a database " * 100)
    with pytest.raises(JournalError, match="not a usable journal"):
        Journal(path)


def test_download_paths_are_trusted_only_while_the_file_is_whole(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 100)
    with Journal(":memory:") as journal:
        journal.recall(0, request("a"))
        journal.ended(BatchItem(index=0, request=request("a"), status="completed", job=job("j")))
        assert journal.download_path(0, request("a")) is None
        journal.downloaded(0, request("a"), video)
        assert journal.download_path(0, request("a")) == video
        video.write_bytes(b"x" * 10)  # truncated since: download it again
        assert journal.download_path(0, request("a")) is None


@pytest.mark.anyio
async def test_a_batch_run_again_is_handed_back_without_a_submit(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    prompts = [f"prompt {i}" for i in range(5)]
    with Journal(path) as journal:
        async with AsyncSoraClient.simulated(time_scale=0.002) as client:
            first = await client.generate_batch(prompts, journal=journal)
    assert len(first.completed) == 5
    with Journal(path) as journal:
        async with AsyncSoraClient.simulated(time_scale=0.002) as client:
            again = await client.generate_batch(prompts, journal=journal)
            assert client.simulator is not None and client.simulator.counters.total == 0
    assert again.urls == first.urls
