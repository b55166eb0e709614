"""A submit is in doubt only once its bytes may have left (issue 9).

The journal's intent is written at the last moment before the request is written: after
the daily reservation, the task slot, the place on the wire, the rate window and the
connection. A prompt still waiting for any of them has no intent row: a crash leaves it
simply pending.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from core_support import eventually, simulated

from sora_async import APIConnectionError, AsyncSoraClient
from sora_async._journal import Journal
from sora_async._submits import MAX_SUBMITS_ON_WIRE
from sora_async.simulator import Simulator

pytestmark = pytest.mark.anyio


def states(journal: Journal) -> list[str]:
    return sorted(row["state"] for row in journal.rows())


async def test_a_submit_waiting_for_a_task_slot_is_not_in_doubt(tmp_path: Path) -> None:
    # soravideo: 3 tasks at once, and these jobs do not end while the test looks.
    client = simulated("soravideo", service_time=(10_000.0, 10_000.0), rate_limit=10**6)
    with Journal(tmp_path / "j.sqlite") as journal:
        async with client, anyio.create_task_group() as group:

            async def run() -> None:
                async for _ in client.generate_many(
                    [f"p{i}" for i in range(8)], journal=journal, max_submitting=8
                ):
                    pass

            group.start_soon(run)
            await eventually(lambda: states(journal).count("submitted") == 3)
            for _ in range(50):  # the other five have every chance to go on
                await anyio.lowlevel.checkpoint()
            # Five prompts wait for a task slot: nothing of theirs left, nothing in doubt.
            assert states(journal) == ["submitted"] * 3
            group.cancel_scope.cancel()


async def test_submits_on_the_wire_are_bounded(tmp_path: Path) -> None:
    seen: list[int] = []
    client = simulated("openai")
    original = client._transport.send

    async def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(client._submits.on_wire)
        return await original(*args, **kwargs)

    client._transport.send = watched  # type: ignore[method-assign]
    async with client:
        await client.generate_batch([f"p{i}" for i in range(20)], max_submitting=20)
    assert max(seen) <= MAX_SUBMITS_ON_WIRE
    codefast = simulated("codefast", daily_limit=100)
    assert codefast._submits._on_wire.value == 1  # one at a time where lists lack prompts


async def test_the_intent_is_written_once_connected_before_the_first_byte() -> None:
    """Through httpcore (a real socket), the trace's ``send_request_headers.started``."""
    sim = Simulator(provider="openai", time_scale=0.002)
    with sim.serve_in_thread() as url:
        async with AsyncSoraClient(
            api_key="sk-test", provider="openai", base_url=url, allow_insecure_http=True
        ) as client:
            events: list[str] = []

            async def trace(event: str, info: dict[str, Any]) -> None:
                events.append(event)

            request = client.provider.submit_request(_request("a fox"), None)
            request.extensions["trace"] = trace
            answer = await client._transport.send(
                request, submit=True, on_wire=lambda: events.append("INTENT")
            )
            assert answer.error is None
    intent = events.index("INTENT")
    assert events.index("connection.connect_tcp.complete") < intent
    # Our hook runs first, then the caller's own trace sees the same event.
    assert events[intent + 1] == "http11.send_request_headers.started"


def _request(prompt: str) -> Any:
    from sora_async._requests import make_request

    return make_request(prompt, {})


async def test_an_asgi_transport_writes_the_intent_before_handing_over() -> None:
    # No trace fires in-process: the safe side, just before the request is handed over.
    client = simulated("openai")
    events: list[str] = []
    async with client:
        request = client.provider.submit_request(_request("a fox"), None)
        answer = await client._transport.send(
            request, submit=True, on_wire=lambda: events.append("INTENT")
        )
    assert answer.error is None and events == ["INTENT"]


async def test_a_stop_bounds_the_wait_for_a_submit_on_the_wire() -> None:
    client = simulated("openai", time_scale=1.0)
    assert client.simulator is not None
    client.simulator.inject("slow", route="submit", seconds=60.0)  # a server that hangs
    errors: list[APIConnectionError] = []
    async with client, anyio.create_task_group() as group:

        async def submit() -> None:
            try:
                await client.submit("a fox")
            except APIConnectionError as error:
                errors.append(error)

        group.start_soon(submit)
        await eventually(lambda: client._submits.on_wire == 1)
        group.cancel_scope.cancel()  # shielded: the submit on the wire goes on
        client._submits.stop(grace=0.05)  # ... for this long
    (error,) = errors
    assert "cut off: the client was stopping" in str(error)  # not the 30 s deadline
    assert error.maybe_submitted  # in doubt, honestly: the bytes had left
    with pytest.raises(APIConnectionError, match="stopping"):
        await client.submit("a crow")  # nothing new after a stop
