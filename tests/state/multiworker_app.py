"""The FastAPI example's shape for ``uvicorn --workers N``: every worker runs one client
against the simulator at ``SIM_URL``, sharing its budget through ``SORA_SHARED_STATE``
(read by the client itself) when set."""

from __future__ import annotations

import os

from fastapi import FastAPI

from sora_async import AsyncSoraClient
from sora_async.contrib.fastapi import create_router, sora_lifespan

SCALE = float(os.environ["SIM_TIME_SCALE"])


def make_client() -> AsyncSoraClient:
    client = AsyncSoraClient(
        provider=os.environ["SIM_PROVIDER"],
        base_url=os.environ["SIM_URL"],
        api_key="sk-one-shared-key",
        poll_interval=3.0 * SCALE,
        max_poll_interval=30.0 * SCALE,
        max_retries=8,
    )
    client.scale_time(SCALE)  # the simulator's time: published windows and pauses scaled
    return client


app = FastAPI(lifespan=sora_lifespan(client=make_client))
app.include_router(create_router())
