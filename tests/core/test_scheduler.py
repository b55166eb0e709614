"""The poll scheduler's decisions, on a clock the test moves (issue 11.1).

Nothing here waits for real time: the estimates are pure functions of made-up times, and
the scheduler's choices are read from its state after each step on a ManualClock.
"""

from __future__ import annotations

from collections.abc import Collection

import anyio
import pytest

from sora_async import Job, JobStatus, Quota, SoraError
from sora_async._estimates import (
    BYTES_PER_REQUEST,
    FIRST_LOOK_QUANTILE,
    GROWTH,
    WINDOW_GAP,
    Estimates,
    Known,
)
from sora_async._scheduler import PollScheduler
from sora_async.testing import ManualClock

INTERVAL, LONGEST = 3.0, 30.0


def job(job_id: str, status: JobStatus = JobStatus.QUEUED, **fields: object) -> Job:
    return Job(id=job_id, status=status, raw_status=status.value, **fields)


def look(estimates: Estimates, known: Known, now: float, longest: float = LONGEST) -> float:
    return estimates.next_look(known, now=now, interval=INTERVAL, longest=longest)


def seen(known: Known, now: float, status: JobStatus, progress: float | None = None) -> Known:
    known.learn(job("j", status, progress=progress), now)
    return known


def finished_one(estimates: Estimates, *, tracked: float, started: float, ended: float) -> None:
    known = seen(Known(tracked_at=tracked), started, JobStatus.PROCESSING)
    known.queued_at = started  # seen queued just before it started
    estimates.finished(known, ended)


# -- when a job is worth a look ---------------------------------------------------------------


def test_before_anything_finished_the_gap_grows_with_the_jobs_age() -> None:
    estimates, known = Estimates(), Known(tracked_at=0.0)
    gaps = [look(estimates, known, now) for now in (3.0, 6.0, 40.0, 80.0, 400.0)]
    # Never under poll_interval, a share of the age after that, never over the longest.
    expected = [INTERVAL, INTERVAL, GROWTH * 40.0, GROWTH * 80.0, LONGEST]
    assert gaps == [pytest.approx(gap) for gap in expected]


def test_a_job_is_not_looked_at_before_the_quickest_service_seen_has_passed() -> None:
    estimates = Estimates()
    finished_one(estimates, tracked=0.0, started=0.0, ended=60.0)
    known = Known(tracked_at=100.0)
    known.learn(job("j"), 100.0)  # queued at submit
    # One job took 60 s: the next may well be quicker, by half at most as far as one
    # sample tells. The window opens at 30 s.
    assert look(estimates, known, 101.0, longest=100.0) == pytest.approx(29.0)
    for ended in (70.0, 80.0):  # three samples, the quickest 60 s: opens at 3/4 of it
        finished_one(estimates, tracked=0.0, started=0.0, ended=ended)
    assert look(estimates, known, 101.0, longest=100.0) == pytest.approx(44.0)
    # Once that time has passed, it may end any moment: every WINDOW_GAP intervals.
    assert look(estimates, known, 170.0, longest=100.0) == INTERVAL * WINDOW_GAP


def test_looks_in_a_window_are_far_apart_when_jobs_end_rarely_and_close_when_often() -> None:
    estimates = Estimates()
    for ended in (60.0, 62.0, 63.0, 65.0, 66.0, 68.0, 69.0, 71.0):  # one every 1.5 s
        finished_one(estimates, tracked=0.0, started=0.0, ended=ended)
    # 200 tracked and several ending each interval: every interval.
    assert estimates.window_gap(72.0, INTERVAL, tracked=200) == INTERVAL
    # Four tracked of ~65 s: one ends every ~16 s, about every 5 intervals: far apart.
    assert 2 * INTERVAL < estimates.window_gap(72.0, INTERVAL, tracked=4) <= WINDOW_GAP * INTERVAL
    # Nothing has ended for a long while: the recent rate fades too.
    assert estimates.window_gap(600.0, INTERVAL, tracked=200) == INTERVAL * WINDOW_GAP


def test_one_progress_reading_times_the_end() -> None:
    estimates, known = Estimates(), Known(tracked_at=0.0)
    seen(known, 30.0, JobStatus.PROCESSING, progress=50.0)  # half done after 30 s
    assert look(estimates, known, 30.0, longest=100.0) == pytest.approx(30.0)


def test_two_progress_readings_give_the_rate() -> None:
    estimates, known = Estimates(), Known(tracked_at=0.0)
    seen(known, 20.0, JobStatus.PROCESSING, progress=10.0)
    seen(known, 40.0, JobStatus.PROCESSING, progress=30.0)  # 1 % a second: 70 s to go
    assert look(estimates, known, 40.0, longest=100.0) == pytest.approx(71.0)  # +1 % slack


def test_a_low_reading_is_followed_by_a_second_half_way() -> None:
    estimates, known = Estimates(), Known(tracked_at=0.0)
    seen(known, 10.0, JobStatus.PROCESSING, progress=10.0)  # ends by 100 s at the latest
    assert look(estimates, known, 10.0, longest=100.0) == pytest.approx(45.0)


def test_an_overdue_job_is_looked_at_every_interval() -> None:
    estimates, known = Estimates(), Known(tracked_at=0.0)
    seen(known, 30.0, JobStatus.PROCESSING, progress=50.0)
    assert look(estimates, known, 70.0) == INTERVAL


def test_the_servers_hint_comes_first_within_the_bounds() -> None:
    estimates, known = Estimates(), Known(tracked_at=0.0)
    known.hint = 12.0
    assert look(estimates, known, 5.0) == 12.0
    known.hint = 0.1
    assert look(estimates, known, 5.0) == INTERVAL  # poll_interval is the shortest gap


def test_where_progress_times_the_rest_the_first_look_waits_for_a_share_of_the_jobs() -> None:
    estimates = Estimates()
    estimates.progress_seen = True
    services = (40.0, 70.0, 100.0, 130.0)
    for service in services:
        finished_one(estimates, tracked=0.0, started=0.0, ended=service)
    known = Known(tracked_at=1000.0)
    known.learn(job("j"), 1000.0)
    # FIRST_LOOK_QUANTILE of the services seen, linear between ranks.
    position = FIRST_LOOK_QUANTILE * (len(services) - 1)
    low = services[int(position)]
    expected = low + (services[int(position) + 1] - low) * (position - int(position))
    assert look(estimates, known, 1000.0, longest=200.0) == pytest.approx(expected)


def test_progress_foretells_service_times_before_anything_has_finished() -> None:
    estimates, running = Estimates(), Known(tracked_at=0.0)
    for now, percent in ((10.0, 10.0), (20.0, 20.0)):  # 100 s a job
        seen(running, now, JobStatus.PROCESSING, progress=percent)
        estimates.learned(running)
    assert list(estimates.predicted) == [pytest.approx(100.0)]
    queued = Known(tracked_at=20.0)
    queued.learn(job("q"), 20.0)
    # Not a growing gap from 20 s: a queued job cannot end within a service time.
    assert look(estimates, queued, 21.0, longest=200.0) == pytest.approx(99.0)


def test_a_completed_job_teaches_its_service_time_and_turnaround() -> None:
    estimates, known = Estimates(), Known(tracked_at=0.0)
    seen(known, 0.0, JobStatus.QUEUED)
    seen(known, 10.0, JobStatus.PROCESSING, progress=20.0)
    seen(known, 30.0, JobStatus.PROCESSING, progress=60.0)  # 2 %/s: started at 0 s
    estimates.finished(known, 52.0)
    assert list(estimates.turnaround) == [52.0]
    assert list(estimates.service) == [pytest.approx(50.5)]  # ended at 50.5 s by its rate


def test_a_job_seen_done_at_its_first_look_still_teaches_a_service_time() -> None:
    # Only jobs read before their end would teach otherwise: the long ones, and every
    # next first look would drift later.
    estimates = Estimates()
    estimates.progress_seen = True
    known = Known(tracked_at=100.0)
    known.learn(job("j"), 100.0)  # queued at submit
    estimates.finished(known, 160.0)
    assert list(estimates.service) == [60.0]  # at most 60 s


def test_without_progress_a_job_is_likely_to_end_a_median_service_after_its_start() -> None:
    estimates = Estimates()
    for service in (40.0, 60.0, 120.0):
        finished_one(estimates, tracked=0.0, started=0.0, ended=service)
    unread = Known(tracked_at=10.0)
    unread.learn(job("u"), 10.0)
    read = seen(Known(tracked_at=50.0), 60.0, JobStatus.PROCESSING, progress=50.0)
    assert estimates.likely_end(unread) == pytest.approx(70.0)  # 10 s + the median 60 s
    assert estimates.likely_end(read) == pytest.approx(70.0)  # half done after 10 s


# -- a list sweep or single polls ---------------------------------------------------------------


def test_a_sweep_pays_for_two_jobs_until_the_list_turns_out_long() -> None:
    estimates = Estimates()
    assert not estimates.costs.sweep_cheaper(1)
    assert estimates.costs.sweep_cheaper(2)
    # codefast lists every finished video unpaged: 10,000 of them weigh ~1.5 MB.
    estimates.costs.list_answer(1, 1_500_000)
    estimates.costs.status_answer(500)
    assert not estimates.costs.sweep_cheaper(8)
    assert estimates.costs.sweep_cheaper(1 + 1_500_000 / BYTES_PER_REQUEST + 1)


class Recorder:
    """Stands in for the client: answers from a table, and keeps what was asked."""

    def __init__(self, states: dict[str, Job] | None = None) -> None:
        self.states = states or {}
        self.polled: list[str] = []
        self.listed = 0

    async def poll_status(self, job_id: str) -> tuple[Job, float | None]:
        self.polled.append(job_id)
        return self.states[job_id], None

    async def list_jobs(self, tracked: Collection[str]) -> list[Job]:
        self.listed += 1
        return [j for j in self.states.values() if j.is_terminal and j.id in tracked]


def scheduler(
    recorder: Recorder,
    clock: ManualClock,
    *,
    lists: bool = True,
    estimates: Estimates | None = None,
) -> PollScheduler:
    return PollScheduler(
        poll_status=recorder.poll_status,
        list_jobs=recorder.list_jobs if lists else None,
        poll_concurrency=4,
        poll_interval=INTERVAL,
        max_poll_interval=LONGEST,
        estimates=estimates,
        clock=clock,
    )


def ignore(job: Job, error: SoraError | None) -> None:
    return None


def test_a_new_job_is_first_looked_at_one_interval_later() -> None:
    clock = ManualClock()
    poller = scheduler(Recorder(), clock)
    clock.advance(5.0)
    poller.track(job("a"), ignore)
    assert poller._entries["a"].due == 5.0 + INTERVAL


def test_the_choice_counts_the_looks_a_sweep_stands_for() -> None:
    clock = ManualClock()
    estimates = Estimates()
    poller = scheduler(Recorder(), clock, estimates=estimates)
    for name in "abcdefgh":
        poller.track(job(name), ignore)
    clock.advance(INTERVAL)
    due = poller._take_due(clock())
    assert len(due) == 8 and poller.sweep_pays(due, clock())
    # The same eight behind a 1.5 MB list: eight single polls cost less.
    estimates.costs.list_answer(1, 1_500_000)
    assert not poller.sweep_pays(due, clock())
    # Without a list endpoint there is nothing to choose.
    assert not scheduler(Recorder(), clock, lists=False).sweep_pays(due, clock())


@pytest.mark.anyio
async def test_one_sweep_settles_what_it_lists_and_is_a_look_at_the_rest() -> None:
    clock = ManualClock()
    done = job("a", JobStatus.COMPLETED, video_url="https://cdn/a.mp4")
    recorder = Recorder({"a": done, "b": job("b", JobStatus.PROCESSING)})
    poller = scheduler(recorder, clock)
    heard: list[Job] = []
    poller.track(job("a"), lambda state, error: heard.append(state))
    poller.track(job("b"), ignore)
    clock.advance(INTERVAL)
    due = poller._take_due(clock())
    async with anyio.create_task_group() as group:
        await poller._sweep(group, due)
    assert recorder.listed == 1 and recorder.polled == []
    assert [j.status for j in heard] == [JobStatus.COMPLETED] and poller.tracked == 1
    # "b" was not listed: the sweep counted as its look, the next one is planned from now.
    assert poller._entries["b"].due > clock()
    assert poller._heap and poller._next_due() == poller._entries["b"].due


@pytest.mark.anyio
async def test_a_listed_end_without_its_url_is_fetched_by_one_poll() -> None:
    clock = ManualClock()
    bare = job("a", JobStatus.COMPLETED)  # a list entry with no URL
    recorder = Recorder({"a": bare})
    poller = scheduler(recorder, clock)
    poller.track(job("a"), ignore)
    clock.advance(INTERVAL)
    recorder.states["a"] = bare
    async with anyio.create_task_group() as group:
        await poller._sweep(group, poller._take_due(clock()))
    assert recorder.polled == ["a"]


def counted(job_id: str, active: int) -> Job:
    return job(job_id, JobStatus.PROCESSING, quota=Quota(concurrent_active=active))


def three_running(clock: ManualClock) -> tuple[PollScheduler, Recorder]:
    recorder = Recorder()
    poller = scheduler(recorder, clock, lists=False)
    for name, percent in (("a", 80.0), ("b", 50.0), ("c", 20.0)):
        poller.track(job(name), ignore)
        poller._entries[name].known.learn(job(name, JobStatus.PROCESSING, progress=percent), 0.0)
    return poller, recorder


@pytest.mark.anyio
async def test_an_unchanged_active_count_is_a_look_at_every_job() -> None:
    clock = ManualClock()
    poller, recorder = three_running(clock)
    clock.advance(10.0)
    recorder.states["a"] = counted("a", active=3)
    before = {name: e.due for name, e in poller._entries.items()}
    await poller._poll_one(poller._entries["a"])
    # Nothing ended: b and c need no look before one interval from now at the soonest.
    for name in "bc":
        assert poller._entries[name].due >= clock() + INTERVAL
    assert poller._entries["c"].due >= before["c"]


@pytest.mark.anyio
async def test_a_lower_active_count_sends_a_look_at_the_job_expected_to_end_first() -> None:
    clock = ManualClock()
    poller, recorder = three_running(clock)
    clock.advance(10.0)
    recorder.states["c"] = counted("c", active=2)  # one of a, b, c has ended
    planned = poller._entries["b"].due
    await poller._poll_one(poller._entries["c"])
    # "a" was 80 % done: it is the one looked at now; "b" keeps its planned look.
    assert poller._entries["a"].due == clock()
    assert poller._entries["b"].due == planned


def test_where_answers_count_the_active_jobs_one_of_several_due_is_polled() -> None:
    clock = ManualClock()
    poller, _ = three_running(clock)
    due = list(poller._entries.values())
    assert poller._singles(due, clock()) == due  # nothing says counts are told yet
    poller._counts_active = True
    chosen = poller._singles(list(due), clock())
    assert [e.job.id for e in chosen] == ["a"]  # the one expected to end first
    assert all(poller._entries[name].due == INTERVAL / 2 for name in "bc")


@pytest.mark.anyio
async def test_a_lower_active_count_looks_at_the_nearest_end_not_the_oldest_job() -> None:
    # "old" was tracked first but is unread, and jobs here take ~100 s: it likely ends at
    # 100 s; "near" is 90 % done and ends at ~11 s. The answer that one has ended sends
    # the look to "near", not to the oldest.
    clock = ManualClock()
    estimates = Estimates()
    for service in (90.0, 100.0, 110.0):
        finished_one(estimates, tracked=0.0, started=0.0, ended=service)
    recorder = Recorder()
    poller = scheduler(recorder, clock, lists=False, estimates=estimates)
    for name in ("old", "near", "asker"):
        poller.track(job(name), ignore)
        clock.advance(0.1)
    poller._entries["near"].known.learn(job("near", JobStatus.PROCESSING, progress=90.0), 10.0)
    clock.advance(10.0)
    recorder.states["asker"] = counted("asker", active=2)
    planned = poller._entries["old"].due
    await poller._poll_one(poller._entries["asker"])
    assert poller._entries["near"].due == clock()
    assert poller._entries["old"].due == planned


@pytest.mark.anyio
async def test_a_job_submitted_while_a_poll_was_in_flight_is_not_taken_for_an_end() -> None:
    # The server counted two unfinished jobs before "new" reached it; "new" was tracked
    # while the answer travelled. Two of the two it could count are unfinished: no end.
    clock = ManualClock()
    poller = scheduler(Recorder(), clock, lists=False)
    poller.track(job("a"), ignore)
    poller.track(job("b"), ignore)
    clock.advance(10.0)

    async def slow_answer(job_id: str) -> tuple[Job, float | None]:
        clock.advance(1.0)
        poller.track(job("new"), ignore)
        return counted(job_id, active=2), None

    poller._poll_status = slow_answer
    await poller._poll_one(poller._entries["a"])
    # The answer was a look at "b": its next is an interval away at least, not now.
    assert poller._entries["b"].due >= clock() + INTERVAL


@pytest.mark.anyio
async def test_a_job_seen_unfinished_since_the_count_fell_is_not_looked_at_again_for_it() -> None:
    # One of a, b, c has ended. "a" ends first by its progress: it is looked at, and is
    # still running. The next answer that still counts one ended sends the look to "b";
    # the one after that to nobody seen running since, never back to "a" every interval.
    clock = ManualClock()
    recorder = Recorder()
    poller = scheduler(recorder, clock, lists=False)
    for name, first, second in (("a", 50.0, 55.0), ("b", 20.0, 22.0), ("c", 10.0, 11.0)):
        poller.track(job(name), ignore)
        for at, percent in ((5.0, first), (10.0, second)):
            poller._entries[name].known.learn(job(name, JobStatus.PROCESSING, progress=percent), at)
    clock.advance(10.0)
    recorder.states = {name: counted(name, active=2) for name in "abc"}
    await poller._poll_one(poller._entries["c"])  # c answers: one has ended
    assert poller._entries["a"].due == clock()
    await poller._poll_one(poller._entries["a"])  # a: running, and one has still ended
    assert poller._entries["b"].due == clock()
    clock.advance(INTERVAL)
    await poller._poll_one(poller._entries["b"])  # b: running too
    assert poller._entries["a"].due > clock()  # seen running since the count fell


def test_a_look_due_only_to_the_longest_gap_goes_to_the_job_that_tells_most() -> None:
    # Answers count the active jobs, so any poll is a look at all: when only the longest
    # gap makes "read" due, the poll goes to "unread", whose progress will time its end,
    # rather than to a job whose end is known and still ahead.
    clock = ManualClock()
    poller = scheduler(Recorder(), clock, lists=False)
    poller._counts_active = True
    for name in ("read", "unread"):
        poller.track(job(name), ignore)
    read = poller._entries["read"]
    read.known.learn(job("read", JobStatus.PROCESSING, progress=10.0), 1.0)
    read.known.learn(job("read", JobStatus.PROCESSING, progress=20.0), 11.0)  # ends ~91 s
    clock.advance(LONGEST)
    poller._schedule(read, clock() - LONGEST)
    assert read.capped and read.due == clock()
    chosen = poller._singles(poller._take_due(clock()), clock())
    assert [e.job.id for e in chosen] == ["unread"]
    # While a poll is on its way, its answer is the look they are due for: none is sent.
    poller._entries["unread"].in_flight = True
    poller._schedule(read, clock() - LONGEST)
    assert poller._singles(poller._take_due(clock()), clock()) == []
    assert read.due == clock() + INTERVAL / 2
    poller._entries["unread"].in_flight = False
    # Where no other job may be polled yet (one interval since its last), the due one is.
    poller._entries["unread"].checked_at = clock()
    poller._schedule(read, clock() - LONGEST)
    assert [e.job.id for e in poller._singles(poller._take_due(clock()), clock())] == ["read"]


def test_estimates_outlive_a_scheduler_on_the_client() -> None:
    from sora_async import AsyncSoraClient

    client = AsyncSoraClient(api_key="sk-test")
    first, second = client._new_scheduler(), client._new_scheduler()
    assert first._estimates is second._estimates is client._estimates
