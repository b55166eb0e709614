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
