"""Submits in doubt are settled from the provider's own records before anything is resent
(issue 9): openai by prompt and time, codefast by its daily quota and list, soravideo
not at all (it says so, and names --resubmit-unknown)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from core_support import FAST, SHORT_JOBS

from sora_async import AsyncSoraClient, GenerationRequest
from sora_async._journal import Journal
from sora_async.simulator import Simulator

pytestmark = pytest.mark.anyio

PROMPTS = ["a fox", "a crow"]


def client_for(sim: Simulator, *, longest: float = 30 * FAST) -> AsyncSoraClient:
    """Another client (a new process, as it were) of the same simulated server."""
    client = AsyncSoraClient(
        api_key="sk-test",
        provider=sim.settings.provider,
        base_url=sim.base_url,
        http_client=httpx.AsyncClient(transport=sim.transport()),
        allow_insecure_http=True,
        poll_interval=3 * FAST,
        max_poll_interval=longest,
    )
    client.simulator = sim
    return client


def crashed_on_the_wire(path: Path, index: int, *, remaining: int | None = None) -> None:
    """A journal whose run died with prompt ``index``'s submit on the wire."""
    request = GenerationRequest(prompt=PROMPTS[index])
    with Journal(path) as journal:
        journal.recall(index, request)
        journal.intent(index, request, remaining=remaining)


async def rerun(
    sim: Simulator, path: Path, *, longest: float = 30 * FAST, **options: object
) -> list[tuple[str, str | None]]:
    """The batch run again on the journal; ``longest`` is its client's longest poll gap,
    which is also the wait between its looks at submits counted but not listed yet."""
    async with client_for(sim, longest=longest) as client:
        with Journal(path) as journal:
            result = await client.generate_batch(PROMPTS, journal=journal, **options)  # type: ignore[arg-type]
    return [
        (item.status, item.job_id if item.status == "completed" else item.error)
        for item in result.items
    ]


async def test_openai_adopts_the_listed_video_with_the_same_prompt(tmp_path: Path) -> None:
    sim = Simulator(provider="openai", time_scale=FAST, seed=1)
    path = tmp_path / "j.sqlite"
    crashed_on_the_wire(path, 0)
    async with client_for(sim) as client:
        await client.submit("a crow")  # another prompt's video, made at the same time
        taken = await client.submit(PROMPTS[0])  # what the server made of the lost submit

    items = await rerun(sim, path)

    assert items[0] == ("completed", taken.id)  # adopted, not resent
    assert items[1][0] == "completed"
    assert sim.counters.submits == 3


async def test_openai_sends_a_submit_its_list_does_not_show(tmp_path: Path) -> None:
    sim = Simulator(provider="openai", time_scale=FAST, seed=1)
    path = tmp_path / "j.sqlite"
    crashed_on_the_wire(path, 0)  # the bytes may have left, but never arrived

    items = await rerun(sim, path)

    assert [status for status, _ in items] == ["completed", "completed"]
    assert sim.counters.submits == 2


@pytest.mark.parametrize("finished", [True, False], ids=["listed", "listed-later"])
async def test_codefast_adopts_what_its_quota_counted_and_its_list_shows(
    tmp_path: Path, finished: bool
) -> None:
    sim = Simulator(provider="codefast", time_scale=FAST, seed=1)
    path = tmp_path / "j.sqlite"
    crashed_on_the_wire(path, 0, remaining=20)
    async with client_for(sim) as client:
        # Not finished yet, it is not on the list: the run looks again at its end.
        taken = await (client.generate if finished else client.submit)(PROMPTS[0])

    items = await rerun(sim, path)

    assert items[0] == ("completed", taken.id)
    assert sim.counters.submits == 2


async def test_codefast_sends_what_its_quota_did_not_count(tmp_path: Path) -> None:
    sim = Simulator(provider="codefast", time_scale=FAST, seed=1)
    path = tmp_path / "j.sqlite"
    crashed_on_the_wire(path, 0, remaining=20)

    items = await rerun(sim, path)

    assert [status for status, _ in items] == ["completed", "completed"]
    assert sim.counters.submits == 2


async def test_codefast_reports_what_it_counted_when_it_cannot_tell_which(
    tmp_path: Path,
) -> None:
    sim = Simulator(provider="codefast", time_scale=FAST, seed=1, service_time=SHORT_JOBS)
    path = tmp_path / "j.sqlite"
    crashed_on_the_wire(path, 0, remaining=20)
    crashed_on_the_wire(path, 1, remaining=20)
    async with client_for(sim) as client:
        for prompt in PROMPTS:  # both arrived, at the same moment: the list cannot tell
            await client.generate(prompt)

    # However often it looks, the list cannot tell: looking often only ends the run sooner.
    items = await rerun(sim, path, longest=10 * FAST)

    assert [status for status, _ in items] == ["error", "error"]
    reason = items[0][1] or ""
    assert "the server counted 2 of these 2 submits in doubt" in reason
    assert "candidates: prompts 0, 1" in reason and "--resubmit-unknown" in reason
    assert sim.counters.submits == 2  # nothing resent


async def test_soravideo_says_it_keeps_no_list(tmp_path: Path) -> None:
    sim = Simulator(provider="soravideo", time_scale=FAST, seed=1, rate_limit=10**6)
    path = tmp_path / "j.sqlite"
    crashed_on_the_wire(path, 0)

    items = await rerun(sim, path)

    assert items[0][0] == "error"
    reason = items[0][1] or ""
    assert "soravideo keeps no list of jobs" in reason and "--resubmit-unknown" in reason
    assert "sora-async list" not in reason
    assert sim.counters.submits == 1

    resent = await rerun(sim, path, resubmit_unknown=True)
    assert [status for status, _ in resent] == ["completed", "completed"]
    assert sim.counters.submits == 2
