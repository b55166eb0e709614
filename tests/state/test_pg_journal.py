"""The PostgreSQL journal on a real PostgreSQL: claims, leases, takeovers, run identity."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import anyio
import httpx
import psycopg
import pytest

from sora_async import AsyncSoraClient, BatchItem, BatchResult, GenerationRequest, Job, JobStatus
from sora_async._batch import Recall
from sora_async._errors import InvalidRequestError
from sora_async._journal import CRASHED, JournalError, open_journal
from sora_async.simulator import Simulator
from sora_async.state._postgres import PostgresJournal, lease_from_env

TARGET = "openai http://127.0.0.1:9"
#: Seconds the claims of a worker that dies here outlive it: short, waited for by condition.
#: A live worker's lease is long, so that a busy machine never makes it look dead.
LEASE = 0.5
#: A live worker's lease where the other waits for its lines: its sixth is the waiter's
#: look's gap; its heartbeats (a thread of their own) renew it every third.
SHORT_LIVE_LEASE = 3.0


def request(prompt: str) -> GenerationRequest:
    return GenerationRequest(prompt=prompt)


def job(job_id: str, status: JobStatus = JobStatus.QUEUED, **fields: object) -> Job:
    return Job(id=job_id, status=status, raw_status=status.value, **fields)  # type: ignore[arg-type]


@pytest.fixture
def workers(pg_url: str) -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def worker(stack: ExitStack, url: str, lease: float = 30.0) -> PostgresJournal:
    return stack.enter_context(PostgresJournal(url, target=TARGET, lease=lease))


async def after_wait(recall: Recall | None) -> Recall | None:
    """What a worker gets for a prompt another worker held, once that one is gone."""
    if recall is not None and recall.elsewhere is not None:
        with anyio.fail_after(10):
            return await recall.elsewhere()
    return recall


def die(journal: PostgresJournal) -> None:
    """As SIGKILL leaves it: no more heartbeats, and no goodbye."""
    journal._heartbeat.stop()
    journal._db.close()
    journal.close = lambda: None  # type: ignore[method-assign]


def completed(index: int, prompt: str, job_id: str) -> BatchItem:
    done = job(job_id, JobStatus.COMPLETED, video_url=f"https://x/{job_id}.mp4")
    return BatchItem(
        index=index, request=request(prompt), status="completed", job=done, video_url=done.video_url
    )


def test_open_journal_picks_postgres_by_url(pg_url: str) -> None:
    with open_journal(pg_url, target=TARGET) as journal:
        assert isinstance(journal, PostgresJournal)
        assert journal.counts() == {}


def test_one_prompt_one_claim(pg_url: str, workers: ExitStack) -> None:
    a, b = worker(workers, pg_url), worker(workers, pg_url)
    assert a.run == b.run  # b joined a's run
    assert a.recall(0, request("zero")) is None  # a claims it
    held = b.recall(0, request("zero"))
    assert held is not None and held.elsewhere is not None  # b waits for a
    assert b.recall(1, request("one")) is None  # and claims the next
    again = a.recall(1, request("one"))
    assert again is not None and again.elsewhere is not None


@pytest.mark.anyio
async def test_a_waiting_worker_gets_the_line_the_owner_wrote(
    pg_url: str, workers: ExitStack
) -> None:
    # a's short lease bounds b's looks (a lives on: its line is found, dead or alive).
    a, b = worker(workers, pg_url, LEASE), worker(workers, pg_url)
    a.recall(0, request("zero"))
    held = b.recall(0, request("zero"))
    assert held is not None and held.elsewhere is not None
    a.intent(0, request("zero"))
    a.submitted(0, job("job-0"))
    a.ended(completed(0, "zero", "job-0"))
    with anyio.fail_after(10):
        recall = await held.elsewhere()
    assert recall is not None and recall.item is not None
    assert recall.item.job_id == "job-0" and recall.item.status == "completed"


@pytest.mark.anyio
async def test_a_dead_workers_intent_is_in_doubt_never_resent(
    pg_url: str, workers: ExitStack
) -> None:
    a, b = worker(workers, pg_url, LEASE), worker(workers, pg_url)
    a.recall(0, request("zero"))
    a.intent(0, request("zero"))  # the submit may be on the wire; then SIGKILL
    die(a)
    recall = await after_wait(b.recall(0, request("zero")))
    assert recall is not None and recall.unknown == CRASHED
    assert [doubt.index for doubt in b.in_doubt()] == [0]  # b settles it, and only b


@pytest.mark.anyio
async def test_a_dead_workers_claim_and_job_are_taken_over(pg_url: str, workers: ExitStack) -> None:
    a, b = worker(workers, pg_url, LEASE), worker(workers, pg_url)
    a.recall(0, request("zero"))  # claimed, nothing sent
    a.recall(1, request("one"))
    a.intent(1, request("one"))
    a.submitted(1, job("job-1"))
    die(a)
    free = await after_wait(b.recall(0, request("zero")))
    followed = await after_wait(b.recall(1, request("one")))
    assert free is None  # never sent: b submits it
    assert followed is not None and followed.job is not None and followed.job.id == "job-1"
    b.intent(0, request("zero"))  # b holds it now


@pytest.mark.anyio
async def test_a_worker_whose_lease_lapsed_sends_nothing(pg_url: str, workers: ExitStack) -> None:
    a, b = worker(workers, pg_url, LEASE), worker(workers, pg_url)
    a.recall(0, request("zero"))
    a._heartbeat.stop()  # frozen: alive, but its lease lapses
    assert await after_wait(b.recall(0, request("zero"))) is None  # b takes it over
    with pytest.raises(JournalError, match="taken over by another worker"):
        a.intent(0, request("zero"))


def test_a_closed_worker_frees_its_claims_at_once(pg_url: str) -> None:
    with PostgresJournal(pg_url, target=TARGET, lease=3600) as a:
        a.recall(0, request("zero"))
    with PostgresJournal(pg_url, target=TARGET, lease=3600) as b:
        assert b.run == a.run + 1  # nobody was running it: the next run
        assert b.recall(0, request("zero")) is None


def test_moved_and_edited_prompts_keep_the_sqlite_rules(pg_url: str) -> None:
    with PostgresJournal(pg_url, target=TARGET) as first:
        for index, prompt in enumerate(("a fox", "a cat")):
            first.recall(index, request(prompt))
            first.intent(index, request(prompt))
            first.submitted(index, job(f"job-{index}"))
    with PostgresJournal(pg_url, target=TARGET) as second:
        # A line was added above "a fox", and "a cat" was edited.
        assert second.recall(0, request("a new line")) is None
        moved = second.recall(1, request("a fox"))
        assert moved is not None and moved.job is not None and moved.job.id == "job-0"
        assert second.recall(2, request("a black cat")) is None
        assert second.moved == 1
        assert [(r.index, r.job_id) for r in second.unmatched()] == [(1, "job-1")]


def test_a_skipped_line_is_shared_now_and_sent_the_next_day(
    pg_url: str, workers: ExitStack
) -> None:
    reset = datetime(2026, 12, 3, tzinfo=UTC)
    skipped = BatchItem(
        index=0, request=request("zero"), status="skipped", error="daily limit", reset_at=reset
    )
    a, b = worker(workers, pg_url), worker(workers, pg_url)
    a.recall(0, request("zero"))
    a.ended(skipped)
    same = b.recall(0, request("zero"))  # this run: the same line in every worker's --out
    assert same is not None and same.item is not None
    assert same.item.status == "skipped" and same.item.reset_at == reset
    workers.close()
    with PostgresJournal(pg_url, target=TARGET) as tomorrow:  # the next run sends it
        assert tomorrow.recall(0, request("zero")) is None


def test_an_earlier_runs_doubt_is_settled_by_one_worker(pg_url: str, workers: ExitStack) -> None:
    with PostgresJournal(pg_url, target=TARGET) as first:
        first.recall(0, request("zero"))
        first.intent(0, request("zero"))
    a, b = worker(workers, pg_url), worker(workers, pg_url)
    assert [doubt.index for doubt in a.in_doubt()] == [0]
    assert b.in_doubt() == []  # a, alive, is settling it
    a.not_sent(a.in_doubt()[0])
    assert a.recall(0, request("zero")) is None  # a sends it again, nobody else
    held = b.recall(0, request("zero"))
    assert held is not None and held.elsewhere is not None


def test_another_service_and_an_unreachable_server_are_journal_errors(pg_url: str) -> None:
    with PostgresJournal(pg_url, target=TARGET):
        pass
    with pytest.raises(JournalError, match="belongs to another service"):
        PostgresJournal(pg_url, target="codefast https://sora-api.codefast.app")
    with pytest.raises(JournalError, match="cannot reach the PostgreSQL journal"):
        PostgresJournal("postgresql://me:secret@127.0.0.1:1/none", target=TARGET)


def test_a_killed_server_is_a_journal_error(pg_url: str, workers: ExitStack) -> None:
    a = worker(workers, pg_url)
    a.recall(0, request("zero"))
    a.recall(1, request("one"))
    a.intent(1, request("one"))  # on the wire when the server goes
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid != pg_backend_pid()"
        )
    with pytest.raises(JournalError, match=r"failed: .*nothing more is sent"):
        a.intent(0, request("zero"))  # raised before the submit's first byte leaves
    with pytest.raises(JournalError, match="prompt 1 is job job-1 on the server, not recorded"):
        a.submitted(1, job("job-1"))


def test_the_lease_from_the_environment() -> None:
    assert lease_from_env({}) == 30.0
    with pytest.raises(JournalError, match="SORA_JOURNAL_LEASE"):
        lease_from_env({"SORA_JOURNAL_LEASE": "-1"})


@pytest.mark.anyio
async def test_two_clients_share_one_batch_on_both_backends(pg_url: str) -> None:
    """The batch runner cannot tell the journals apart: two clients in one process (asyncio
    or trio: psycopg is called synchronously) split the prompts, each sees every item."""
    scale = 0.002
    simulator = Simulator(provider="openai", time_scale=scale, api_key="sk-one")
    prompts = [f"prompt {i}" for i in range(20)]

    async def worker(results: list[BatchResult]) -> None:
        client = AsyncSoraClient(
            api_key="sk-one",
            provider="openai",
            base_url=simulator.base_url,
            http_client=httpx.AsyncClient(transport=simulator.transport()),
            allow_insecure_http=True,
            poll_interval=3.0 * scale,  # the simulator's time, as AsyncSoraClient.simulated
            max_poll_interval=30.0 * scale,
        )
        client.scale_time(scale)
        with PostgresJournal(pg_url, target=TARGET, lease=SHORT_LIVE_LEASE) as journal:
            async with client:
                results.append(await client.generate_batch(prompts, journal=journal))

    results: list[BatchResult] = []
    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            group.start_soon(worker, results)
            group.start_soon(worker, results)
    assert simulator.counters.submits == len(prompts)
    first, second = ([item.job_id for item in result.items] for result in results)
    assert first == second and len(set(first)) == len(prompts)
    assert all(item.status == "completed" for result in results for item in result.items)


def test_without_the_extra_one_line_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    with pytest.raises(InvalidRequestError) as caught:
        open_journal("postgresql://db/runs")
    assert "pip install 'sora-async[postgres]'" in str(caught.value)
    assert "\n" not in str(caught.value)
