"""A FastAPI service that generates videos for its users through one shared client.

    python examples/fastapi_app.py --simulate --port 8000      # the embedded simulator
    SORA_API_KEY=... python examples/fastapi_app.py --port 8000
    SORA_SIMULATE=1 uvicorn examples.fastapi_app:app            # or any ASGI server

Then, in another shell::

    curl -X POST localhost:8000/videos -H 'content-type: application/json' \\
         -d '{"prompt": "a red fox in fresh snow"}'
    curl -N localhost:8000/videos/<id>/events          # live status, Server-Sent Events
    curl localhost:8000/quota                          # the custom endpoint below

Ctrl+C ends open event streams, cancels the polls and closes the client.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any

from fastapi import FastAPI

from sora_async import Job
from sora_async.contrib.fastapi import (
    SoraClient,
    create_router,
    install_error_handlers,
    sora_lifespan,
    uvicorn_server,
)


def simulate_from_env() -> bool:
    return os.environ.get("SORA_SIMULATE", "") not in ("", "0")


def create_app(*, simulate: bool) -> FastAPI:
    # One client for the whole app; on the simulator no key is needed.
    lifespan = (
        sora_lifespan(simulate=True, provider="codefast", time_scale=0.01)
        if simulate
        else sora_lifespan(provider=os.environ.get("SORA_PROVIDER", "codefast"))
    )
    app = FastAPI(title="Videos for our users", lifespan=lifespan)
    app.include_router(create_router())  # /videos, /videos/{id}, /videos/{id}/events, /batches
    install_error_handlers(app)  # SDK errors in our own endpoints become JSON answers too

    @app.get("/quota")
    async def quota(client: SoraClient) -> dict[str, Any]:
        """What the provider last said about our limits: no request is made."""
        return {"provider": client.provider.name, **client.quota.model_dump(mode="json")}

    @app.post("/trailers", status_code=202)
    async def trailer(title: str, client: SoraClient) -> Job:
        """Our own product on top of the shared client: a trailer for a title."""
        return await client.submit(f"A cinematic movie trailer for '{title}'", aspect_ratio="16:9")

    return app


app = create_app(simulate=simulate_from_env())


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the video API.")
    parser.add_argument("--simulate", action="store_true", default=simulate_from_env())
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if not args.simulate and not os.environ.get("SORA_API_KEY"):
        raise SystemExit("set SORA_API_KEY, or run with --simulate")
    # uvicorn_server ends open event streams first, so that Ctrl+C is not held up by them.
    server = uvicorn_server(create_app(simulate=args.simulate), host=args.host, port=args.port)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl+C it handled
        server.run()


if __name__ == "__main__":
    main()
