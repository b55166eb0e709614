"""SDK errors become HTTP answers with a JSON body, in the router and in an app's endpoints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi_support import make_app, read_events
from starlette.requests import HTTPConnection

from sora_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncSoraClient,
    AuthenticationError,
    BadRequestError,
    ConcurrencyLimitError,
    DailyLimitError,
    InsufficientCreditsError,
    InvalidRequestError,
    Job,
    JobFailedError,
    JobStatus,
    NotFoundError,
    RateLimitError,
    ResponseParseError,
    ServerError,
    SoraError,
    WaitTimeoutError,
)
from sora_async.contrib.fastapi import (
    SoraClient,
    create_router,
    error_response,
    get_sora_client,
    install_error_handlers,
    sora_lifespan,
)
from sora_async.testing import ManualClock, serve_app, serve_simulator

KEY = "sk-live-THIS-MUST-NOT-LEAK"
FAILED = Job(id="job-1", status=JobStatus.FAILED, raw_status="failed", error="policy")


def daily_limit_error() -> DailyLimitError:
    error = DailyLimitError("Daily limit reached", status_code=429)
    error.reset_at = datetime.now(UTC) + timedelta(hours=2)
    return error


# -- the mapping itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (InvalidRequestError("must be 16:9", field="aspect_ratio"), 422, "invalid_request"),
        (BadRequestError("duration must be 10", status_code=400), 422, "invalid_request"),
        (NotFoundError("Job not found", status_code=404), 404, "not_found"),
        (AuthenticationError(f"bad key {KEY}", status_code=401, body=KEY), 502, "upstream_auth"),
        (daily_limit_error(), 429, "daily_limit"),
        (RateLimitError("slow down", status_code=429, retry_after=2.5), 503, "upstream_busy"),
        (ConcurrencyLimitError("3 tasks", status_code=429), 503, "upstream_busy"),
        (InsufficientCreditsError("no credits", status_code=402), 503, "upstream_credits"),
        (APITimeoutError("read timeout", maybe_submitted=True), 504, "upstream_timeout"),
        (APIConnectionError("refused"), 502, "upstream_unavailable"),
        (ServerError("<html>502 Bad Gateway</html>", status_code=502), 502, "upstream_error"),
        (ResponseParseError("not JSON"), 502, "upstream_error"),
        (JobFailedError("job job-1 failed: policy", job=FAILED), 502, "job_failed"),
        (WaitTimeoutError("job job-1 did not finish", job=FAILED), 504, "wait_timeout"),
        (SoraError("something else"), 502, "upstream_error"),
    ],
)
def test_every_error_maps_to_a_status_and_a_json_body(
    error: SoraError, status: int, kind: str
) -> None:
    response = error_response(error)
    body = json.loads(bytes(response.body))
    assert response.status_code == status
    assert body["error"]["type"] == kind
    assert body["error"]["message"]
    assert KEY not in bytes(response.body).decode()
    assert "<html>" not in body["error"]["message"]


def test_the_error_details_a_caller_can_act_on() -> None:
    daily = error_response(daily_limit_error())
    assert json.loads(bytes(daily.body))["error"]["reset_at"].endswith("+00:00")
    assert 7100 <= int(daily.headers["retry-after"]) <= 7200
    assert (
        error_response(RateLimitError("x", status_code=429, retry_after=2.5)).headers["retry-after"]
        == "3"
    )
    timeout = json.loads(bytes(error_response(APITimeoutError("t", maybe_submitted=True)).body))
    assert timeout["error"]["maybe_submitted"] is True
    failed = json.loads(bytes(error_response(JobFailedError("failed", job=FAILED)).body))
    assert failed["error"]["job_id"] == "job-1"
    invalid = error_response(InvalidRequestError("must be 16:9", field="aspect_ratio"))
    assert json.loads(bytes(invalid.body))["error"]["field"] == "aspect_ratio"


def test_the_auth_message_says_the_upstream_key_was_refused() -> None:
    body = json.loads(bytes(error_response(AuthenticationError(KEY, status_code=401)).body))
    assert "refused" in body["error"]["message"]
    assert "key" in body["error"]["message"]


def test_the_dependency_needs_the_lifespan() -> None:
    connection = HTTPConnection({"type": "http", "app": FastAPI()})
    with pytest.raises(RuntimeError, match="sora_lifespan"):
        get_sora_client(connection)


def test_client_and_client_settings_are_exclusive() -> None:
    with pytest.raises(TypeError, match="not both"):
        sora_lifespan(client=AsyncSoraClient.simulated, provider="openai")


# -- through a running server ---------------------------------------------------------------------


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
        yield http


def error_of(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
class TestUnderUvicorn:
    async def test_bad_input_is_422(self) -> None:
        async with running(make_app(simulate=True, time_scale=0.01)) as http:
            ratio = await http.post("/videos", json={"prompt": "a fox", "aspect_ratio": "4:3"})
            blank = await http.post("/videos", json={"prompt": "   "})
            path = await http.post("/videos", json={"prompt": "a fox", "image": "/etc/passwd"})
            unknown = await http.post("/videos", json={"prompt": "a fox", "colour": "red"})
            batch = await http.post("/batches", json={"prompts": ["a"], "aspect_ratio": "4:3"})
            empty = await http.post("/batches", json={"prompts": []})
        assert (ratio.status_code, error_of(ratio)["field"]) == (422, "aspect_ratio")
        assert (blank.status_code, error_of(blank)["field"]) == (422, "prompt")
        assert (batch.status_code, error_of(batch)["field"]) == (422, "aspect_ratio")
        # Body validation is FastAPI's own 422; an image path never reaches the disk.
        for response in (path, unknown, empty):
            assert response.status_code == 422
            assert "detail" in response.json()

    async def test_a_batch_larger_than_allowed_is_422(self) -> None:
        app = FastAPI(lifespan=sora_lifespan(simulate=True, time_scale=0.01))
        app.include_router(create_router(max_batch_size=2))
        async with running(app) as http:
            answer = await http.post("/batches", json={"prompts": ["a", "b", "c"]})
        assert (answer.status_code, error_of(answer)["field"]) == (422, "prompts")

    async def test_a_spent_daily_quota_is_429_with_the_reset_time(self) -> None:
        async with running(make_app(simulate=True, time_scale=0.01, daily_limit=1)) as http:
            first = await http.post("/videos", json={"prompt": "the only one today"})
            second = await http.post("/videos", json={"prompt": "one too many"})
        assert first.status_code == 202
        assert second.status_code == 429
        reset = datetime.fromisoformat(error_of(second)["reset_at"])
        assert reset > datetime.now(UTC)
        assert int(second.headers["retry-after"]) >= 1

    async def test_a_refused_key_is_502_and_never_shown(self) -> None:
        with serve_simulator(time_scale=0.01, api_key="sk-the-right-one") as server:
            app = make_app(client=lambda: server.client(api_key=KEY, max_retries=0))
            async with running(app) as http:
                submit = await http.post("/videos", json={"prompt": "a fox"})
                status = await http.get("/videos/some-job")
        for response in (submit, status):
            assert response.status_code == 502
            assert error_of(response)["type"] == "upstream_auth"
            assert "refused" in error_of(response)["message"]
            assert KEY not in response.text

    async def test_unknown_ids_are_404(self) -> None:
        async with running(make_app(simulate=True, time_scale=0.01)) as http:
            video = await http.get("/videos/no-such-job")
            events = await http.get("/videos/no-such-job/events")
            batch = await http.get("/batches/no-such-batch")
        for response in (video, events, batch):
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/json"
            assert error_of(response)["type"] == "not_found"

    async def test_a_job_that_vanishes_ends_its_stream_with_an_error_event(self) -> None:
        # Time stands still: the job cannot end before it is deleted.
        app = make_app(simulate=True, provider="openai", time_scale=0.01, clock=ManualClock())
        async with running(app) as http:
            job = (await http.post("/videos", json={"prompt": "soon deleted"})).json()

            async def delete_after_first(event: tuple[str, dict[str, Any]]) -> None:
                if not deleted:
                    deleted.append(event)
                    await app.state.sora_client.delete_video(job["id"])

            deleted: list[Any] = []

            events = await read_events(
                http, f"/videos/{job['id']}/events", on_event=delete_after_first
            )
        assert events[0][0] == "status"
        assert events[-1][0] == "error", [(n, d.get("status"), d.get("error")) for n, d in events]
        assert events[-1][1]["error"]["type"] == "not_found"

    async def test_the_handlers_map_errors_of_the_apps_own_endpoints(self) -> None:
        app = FastAPI(lifespan=sora_lifespan(simulate=True, time_scale=0.01))
        install_error_handlers(app)

        @app.post("/square-video")
        async def square(client: SoraClient) -> Job:
            return await client.submit("a square video", aspect_ratio="1:1")

        async with running(app) as http:
            answer = await http.post("/square-video")
        assert answer.status_code == 422
        assert error_of(answer)["field"] == "aspect_ratio"

    async def test_the_router_maps_errors_without_the_handlers(self) -> None:
        app = FastAPI(lifespan=sora_lifespan(simulate=True, time_scale=0.01))
        app.include_router(create_router(prefix="/api"))
        async with running(app) as http:
            missing = await http.get("/api/videos/no-such-job")
            ratio = await http.post("/api/videos", json={"prompt": "a", "aspect_ratio": "4:3"})
        assert missing.status_code == 404
        assert ratio.status_code == 422
