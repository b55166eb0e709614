"""The integration is anyio code: with no uvicorn, it runs on asyncio and trio alike."""

from __future__ import annotations

import httpx
import pytest
from fastapi_support import make_app, read_events


@pytest.mark.anyio
async def test_submit_follow_and_batch_in_process() -> None:
    app = make_app(simulate=True, time_scale=0.002)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app") as http,
    ):
        job = (await http.post("/videos", json={"prompt": "a red fox"})).json()
        events = await read_events(http, f"/videos/{job['id']}/events")
        batch = (await http.post("/batches", json={"prompts": ["a", "b"]})).json()
        assert (await http.get(f"/batches/{batch['batch_id']}")).status_code == 200
    assert events[-1][1]["status"] == "completed"
    assert not hasattr(app.state, "sora_client")  # closed with the lifespan


@pytest.mark.anyio
@pytest.mark.parametrize("provider", ["codefast", "openai", "soravideo"])
async def test_a_completed_job_has_its_end_time_and_stable_model_names(provider: str) -> None:
    # However the service saw the job end (a status answer, or a list sweep that leaves
    # fields out), its last event and a later GET are whole.
    app = make_app(simulate=True, provider=provider, time_scale=0.002)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://app") as http,
    ):
        job = (await http.post("/videos", json={"prompt": "a red fox"})).json()
        events = [data for _, data in await read_events(http, f"/videos/{job['id']}/events")]
        later = (await http.get(f"/videos/{job['id']}")).json()
    last = events[-1]
    assert last["status"] == "completed"
    assert last["completed_at"] is not None
    assert later["completed_at"] == last["completed_at"]
    if provider != "codefast":
        assert last["progress"] == 100
    # Neither model field changes once known: the request's, then the provider's own.
    for name in ("model", "provider_model"):
        known = [event[name] for event in [job, *events, later] if event[name] is not None]
        assert len(set(known)) <= 1, (name, known)
    if provider == "codefast":
        assert (last["model"], last["provider_model"]) == (
            "sora-2-landscape",
            "sora_video2-landscape-hd",
        )
