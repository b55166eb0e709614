"""SoravideoProvider: requests built and answers read, against API.md section 2 and seed 001."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sora_async._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConcurrencyLimitError,
    DailyLimitError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ResponseParseError,
    ServerError,
)
from sora_async._models import GenerationRequest, JobStatus, Quota
from sora_async.providers import ImageData, SoravideoProvider

BASE = "https://soravideo.art/api/v1"
TASK_ID = "task_abc123"
IMAGE_URL = "https://cdn.example.com/uploads/image123.jpg"


def ok(data: Any) -> dict[str, Any]:
    return {"code": 200, "msg": "success", "data": data}


TASK = {
    "task_id": TASK_ID,
    "status": "processing",
    "progress": 45,
    "video_url": "",
    "thumbnail_url": "",
    "created_at": "2025-01-01T12:00:00Z",
}


@pytest.fixture
def provider() -> SoravideoProvider:
    return SoravideoProvider()


def req(**kwargs: Any) -> GenerationRequest:
    return GenerationRequest(
        prompt=kwargs.pop("prompt", "A beautiful sunrise over mountains"), **kwargs
    )


# -- requests ------------------------------------------------------------------------------


def test_text_submit_matches_the_seed(provider: SoravideoProvider, json_body: Any) -> None:
    request = provider.submit_request(req(aspect_ratio="16:9"), None)
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/sora2/text-to-video"
    assert json_body(request) == {
        "prompt": "A beautiful sunrise over mountains",
        "aspectRatio": "16:9",
    }


def test_every_field_is_camel_case(provider: SoravideoProvider, json_body: Any) -> None:
    request = provider.submit_request(
        req(negative_prompt="blur", aspect_ratio="1:1", duration=10, quality="high", pro=True),
        ImageData(url=IMAGE_URL),
    )
    assert json_body(request) == {
        "prompt": "A beautiful sunrise over mountains",
        "negativePrompt": "blur",
        "aspectRatio": "1:1",
        "duration": 10,
        "quality": "high",
        "imageUrl": IMAGE_URL,
    }


@pytest.mark.parametrize(
    ("kwargs", "image", "path"),
    [
        ({}, None, "/sora2/text-to-video"),
        ({"model": "sora-2"}, None, "/sora2/text-to-video"),
        ({"pro": True}, None, "/sora2-pro/text-to-video"),
        ({"model": "sora-2-pro"}, None, "/sora2-pro/text-to-video"),
        ({"model": "sora-2-pro", "pro": True}, None, "/sora2-pro/text-to-video"),
        ({}, ImageData(url=IMAGE_URL), "/sora2/image-to-video"),
        ({"pro": True}, ImageData(url=IMAGE_URL), "/sora2-pro/image-to-video"),
    ],
)
def test_endpoint_follows_pro_and_image(
    provider: SoravideoProvider, kwargs: dict[str, Any], image: ImageData | None, path: str
) -> None:
    assert str(provider.submit_request(req(**kwargs), image).url) == BASE + path


@pytest.mark.parametrize(
    "image",
    [
        ImageData(data=b"\xff\xd8\xff", mime_type="image/jpeg"),
        ImageData(url="http://cdn.example.com/a.jpg"),
        ImageData(url="data:image/png;base64,AAAA"),
    ],
)
def test_image_must_be_an_https_url(provider: SoravideoProvider, image: ImageData) -> None:
    with pytest.raises(InvalidRequestError, match="https") as info:
        provider.submit_request(req(), image)
    assert info.value.field == "image"


@pytest.mark.parametrize(
    ("kwargs", "field", "named"),
    [
        ({"prompt": "x" * 2001}, "prompt", ["2001", "2000"]),
        ({"aspect_ratio": "4:3"}, "aspect_ratio", ["'16:9'", "'9:16'", "'1:1'"]),
        ({"duration": 7}, "duration", ["5", "10", "15"]),
        ({"duration": 5, "pro": True}, "duration", ["10, 15"]),
        ({"duration": 5, "model": "sora-2-pro"}, "duration", ["10, 15"]),
        ({"quality": "ultra", "pro": True}, "quality", ["'standard'", "'high'"]),
        ({"quality": "high"}, "quality", ["pro"]),
        ({"model": "sora-3"}, "model", ["'sora-2'", "'sora-2-pro'"]),
        ({"model": "sora-2", "pro": True}, "model", ["pro=True"]),
        ({"size": "1280x720"}, "size", []),
        ({"seconds": 10}, "seconds", []),
        ({"image": "http://cdn.example.com/a.jpg"}, "image", ["https"]),
    ],
)
def test_validation_errors_name_the_field_and_the_allowed_values(
    provider: SoravideoProvider, kwargs: dict[str, Any], field: str, named: list[str]
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        provider.validate(req(**kwargs))
    assert info.value.field == field
    for word in named:
        assert word in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prompt": "x" * 2000},
        {"duration": 5},
        {"duration": 15, "pro": True, "quality": "standard"},
        {"aspect_ratio": "1:1", "negative_prompt": "text"},
        {"image": "https://cdn.example.com/a.jpg"},
        {"image": b"bytes are uploaded first"},
    ],
)
def test_valid_requests_pass(provider: SoravideoProvider, kwargs: dict[str, Any]) -> None:
    provider.validate(req(**kwargs))


def test_upload_is_multipart_file(provider: SoravideoProvider, multipart: Any, jpeg: bytes) -> None:
    request = provider.upload_request(
        ImageData(data=jpeg, mime_type="image/jpeg", filename="image.jpg")
    )
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/upload")
    assert multipart(request) == {"file": ("image.jpg", "image/jpeg", jpeg)}


def test_upload_needs_bytes(provider: SoravideoProvider) -> None:
    with pytest.raises(InvalidRequestError) as info:
        provider.upload_request(ImageData(url=IMAGE_URL))
    assert info.value.field == "image"


def test_read_requests(provider: SoravideoProvider) -> None:
    status = provider.status_request(TASK_ID)
    assert (status.method, str(status.url)) == ("GET", f"{BASE}/tasks/{TASK_ID}")
    credits = provider.quota_request()
    assert (credits.method, str(credits.url)) == ("GET", f"{BASE}/credits")
    assert str(provider.check_key_request().url) == f"{BASE}/credits"


def test_paths_and_base_url_are_overridable() -> None:
    provider = SoravideoProvider(
        base_url="http://127.0.0.1:8000/api/v1",
        paths={"status": "/task/{task_id}/state", "credits": "/balance"},
    )
    assert (
        str(provider.status_request("t 1").url) == "http://127.0.0.1:8000/api/v1/task/t%201/state"
    )
    assert str(provider.quota_request().url) == "http://127.0.0.1:8000/api/v1/balance"


def test_auth_header_is_bearer(provider: SoravideoProvider) -> None:
    assert provider.auth_headers("sk_123") == {"Authorization": "Bearer sk_123"}


def test_provider_facts() -> None:
    assert SoravideoProvider.name == "soravideo"
    limits = SoravideoProvider.limits
    assert (limits.rate_limit, limits.rate_window, limits.concurrent_limit) == (20, 60.0, 3)
    assert SoravideoProvider.image_transport == "url"
    assert SoravideoProvider.can_list is False


def test_listing_is_unsupported(provider: SoravideoProvider) -> None:
    with pytest.raises(InvalidRequestError, match="soravideo provider does not support"):
        provider.list_request()


def test_no_request_carries_the_key(provider: SoravideoProvider) -> None:
    requests = [
        provider.submit_request(req(), None),
        provider.submit_request(req(pro=True), ImageData(url=IMAGE_URL)),
        provider.status_request(TASK_ID),
        provider.upload_request(ImageData(data=b"x", mime_type="image/png")),
        provider.quota_request(),
        provider.check_key_request(),
    ]
    for request in requests:
        assert "authorization" not in request.headers


# -- answers -------------------------------------------------------------------------------


def test_submit_answer_is_a_pending_job(provider: SoravideoProvider, respond: Any) -> None:
    response = respond(provider.submit_request(req(), None), json=ok({"task_id": TASK_ID}))
    job = provider.parse_job(provider.unwrap(response))
    assert (job.id, job.status, job.raw_status) == (TASK_ID, JobStatus.QUEUED, "pending")


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("pending", JobStatus.QUEUED),
        ("processing", JobStatus.PROCESSING),
        ("completed", JobStatus.COMPLETED),
        ("failed", JobStatus.FAILED),
        ("upscaling", JobStatus.PROCESSING),
    ],
)
def test_task_statuses(provider: SoravideoProvider, word: str, status: JobStatus) -> None:
    job = provider.parse_job(TASK | {"status": word})
    assert (job.status, job.raw_status) == (status, word)


def test_processing_task(provider: SoravideoProvider, respond: Any) -> None:
    response = respond(provider.status_request(TASK_ID), json=ok(TASK))
    job = provider.parse_job(provider.unwrap(response))
    assert job.progress == 45.0
    assert (job.video_url, job.thumbnail_url, job.completed_at) == (None, None, None)
    assert job.created_at == datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_completed_task(provider: SoravideoProvider) -> None:
    job = provider.parse_job(
        TASK
        | {
            "status": "completed",
            "progress": 100,
            "video_url": "https://cdn.soravideo.art/v/1.mp4",
            "thumbnail_url": "https://cdn.soravideo.art/v/1.jpg",
            "completed_at": "2025-01-01T12:03:30+02:00",
        }
    )
    assert job.status is JobStatus.COMPLETED
    assert job.video_url == "https://cdn.soravideo.art/v/1.mp4"
    assert job.thumbnail_url == "https://cdn.soravideo.art/v/1.jpg"
    assert job.completed_at == datetime(2025, 1, 1, 10, 3, 30, tzinfo=UTC)


def test_failed_task_keeps_the_error(provider: SoravideoProvider) -> None:
    job = provider.parse_job(TASK | {"status": "failed", "error": "moderation"})
    assert (job.status, job.error) == (JobStatus.FAILED, "moderation")


def test_naive_timestamp_is_utc(provider: SoravideoProvider) -> None:
    job = provider.parse_job(TASK | {"created_at": "2025-01-01T12:00:00"})
    assert job.created_at == datetime(2025, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "task",
        {"status": "pending"},
        {"task_id": ""},
        TASK | {"progress": "half"},
        TASK | {"created_at": "yesterday"},
        TASK | {"created_at": 10**20},
    ],
)
def test_malformed_task_is_a_parse_error(provider: SoravideoProvider, payload: Any) -> None:
    with pytest.raises(ResponseParseError, match="soravideo: unexpected task answer"):
        provider.parse_job(payload)


@pytest.mark.parametrize(
    "body",
    [{"data": {"task_id": TASK_ID}}, {"code": "ok", "data": {}}, ["not", "an", "envelope"], {}],
)
def test_success_without_an_envelope_is_a_parse_error(
    provider: SoravideoProvider, respond: Any, body: Any
) -> None:
    response = respond(provider.status_request(TASK_ID), json=body)
    with pytest.raises(ResponseParseError, match="envelope"):
        provider.unwrap(response)


def test_success_that_is_not_json_is_a_parse_error(
    provider: SoravideoProvider, respond: Any
) -> None:
    response = respond(provider.status_request(TASK_ID), content=b"<html></html>")
    with pytest.raises(ResponseParseError):
        provider.unwrap(response)


def test_upload_answer(provider: SoravideoProvider, respond: Any) -> None:
    request = provider.upload_request(ImageData(data=b"x", mime_type="image/png"))
    response = respond(request, json=ok({"url": IMAGE_URL}))
    assert provider.parse_upload(provider.unwrap(response)) == IMAGE_URL


def test_credits_answer(provider: SoravideoProvider, respond: Any) -> None:
    response = respond(provider.quota_request(), json=ok({"credits": 1500}))
    assert provider.parse_quota(provider.unwrap(response)) == Quota(credits=1500)


@pytest.mark.parametrize(
    ("method", "payload"),
    [
        ("parse_upload", {"url": ""}),
        ("parse_upload", None),
        ("parse_quota", {"credits": "many"}),
        ("parse_quota", {}),
    ],
)
def test_malformed_upload_and_credits(
    provider: SoravideoProvider, method: str, payload: Any
) -> None:
    with pytest.raises(ResponseParseError):
        getattr(provider, method)(payload)


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http", "code", "kind"),
    [
        (401, 1001, AuthenticationError),
        (401, 1002, AuthenticationError),
        (401, 1003, AuthenticationError),
        (403, 1004, AuthenticationError),
        (429, 2001, RateLimitError),
        (429, 2002, ConcurrencyLimitError),
        (429, 2003, DailyLimitError),
        (402, 3001, InsufficientCreditsError),
        (403, 3001, InsufficientCreditsError),
        (400, 400, BadRequestError),
        (404, 404, NotFoundError),
        (500, 500, ServerError),
        (503, 503, ServerError),
        (429, 429, RateLimitError),
        # The code wins over the HTTP status.
        (200, 2001, RateLimitError),
        (200, 500, ServerError),
        (200, 1001, AuthenticationError),
        (200, 9999, APIError),
        (418, 9999, BadRequestError),
    ],
)
def test_error_codes(
    provider: SoravideoProvider, respond: Any, http: int, code: int, kind: type[Exception]
) -> None:
    body = {"code": code, "msg": f"message for {code}"}
    response = respond(provider.status_request(TASK_ID), http, json=body)
    with pytest.raises(APIError) as info:
        provider.unwrap(response)
    error = info.value
    assert type(error) is kind
    assert (error.status_code, error.provider_code) == (http, code)
    assert error.message == f"message for {code}"
    assert error.body == body


def test_error_field_is_preferred_to_msg(provider: SoravideoProvider, respond: Any) -> None:
    body = {"code": 400, "msg": "error", "error": "prompt is required"}
    response = respond(provider.status_request(TASK_ID), 400, json=body)
    with pytest.raises(BadRequestError, match="prompt is required"):
        provider.unwrap(response)


@pytest.mark.parametrize(
    ("body", "headers", "retry_after"),
    [
        ({"code": 2001, "msg": "Rate limit exceeded", "retryAfter": 12}, {}, 12.0),
        ({"code": 2001, "msg": "Rate limit exceeded", "data": {"retryAfter": "4.5"}}, {}, 4.5),
        ({"code": 2001, "msg": "Rate limit exceeded"}, {"Retry-After": "7"}, 7.0),
        ({"code": 2001, "msg": "Rate limit exceeded", "retryAfter": 3}, {"Retry-After": "9"}, 3.0),
        ({"code": 2001, "msg": "Rate limit exceeded", "retryAfter": "soon"}, {}, None),
    ],
)
def test_rate_limit_retry_after(
    provider: SoravideoProvider,
    respond: Any,
    body: Any,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    response = respond(provider.status_request(TASK_ID), 429, json=body, headers=headers)
    with pytest.raises(RateLimitError) as info:
        provider.unwrap(response)
    assert info.value.retry_after == retry_after
    assert info.value.provider_code == 2001


def test_daily_limit_resets_at_midnight_utc(provider: SoravideoProvider, respond: Any) -> None:
    body = {"code": 2003, "msg": "Daily limit reached"}
    response = respond(provider.submit_request(req(), None), 429, json=body)
    with pytest.raises(DailyLimitError) as info:
        provider.unwrap(response)
    reset = info.value.reset_at
    assert reset is not None
    now = datetime.now(UTC)
    assert now < reset <= now + timedelta(days=1)
    assert (reset.hour, reset.minute, reset.second, reset.utcoffset()) == (0, 0, 0, timedelta(0))
    quota = provider.quota_from(response, body)
    assert quota is not None
    assert (quota.daily_remaining, quota.daily_reset) == (0, reset)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "502 Bad Gateway"),
        (b'{"error": "upstream down"}', '{"error": "upstream down"}'),
        (b"", "Bad Gateway"),
    ],
)
def test_502_without_an_envelope_maps_by_http_status(
    provider: SoravideoProvider, respond: Any, content: bytes, message: str
) -> None:
    response = respond(provider.status_request(TASK_ID), 502, content=content)
    with pytest.raises(ServerError) as info:
        provider.unwrap(response)
    assert info.value.status_code == 502
    assert info.value.provider_code is None
    assert message in info.value.message


def test_http_error_with_a_success_code_still_returns_the_data(
    provider: SoravideoProvider, respond: Any
) -> None:
    # The code wins: a task id given must never be lost to a confused proxy status.
    response = respond(provider.submit_request(req(), None), 500, json=ok({"task_id": TASK_ID}))
    assert provider.parse_job(provider.unwrap(response)).id == TASK_ID


# -- quota headers -------------------------------------------------------------------------

LIMIT_HEADERS = {
    "X-RateLimit-Limit": "20",
    "X-RateLimit-Remaining": "17",
    "X-RateLimit-Reset": "1735732800.5",
    "X-Concurrent-Limit": "3",
    "X-Concurrent-Active": "1",
}


def test_quota_from_headers(provider: SoravideoProvider, respond: Any) -> None:
    response = respond(provider.status_request(TASK_ID), json=ok(TASK), headers=LIMIT_HEADERS)
    assert provider.quota_from(response, TASK) == Quota(
        rate_limit=20,
        rate_remaining=17,
        rate_reset=datetime(2025, 1, 1, 12, 0, 0, 500000, tzinfo=UTC),
        concurrent_limit=3,
        concurrent_active=1,
    )


def test_quota_headers_ride_on_errors_too(provider: SoravideoProvider, respond: Any) -> None:
    body = {"code": 2002, "msg": "Too many concurrent tasks"}
    response = respond(provider.submit_request(req(), None), 429, json=body, headers=LIMIT_HEADERS)
    quota = provider.quota_from(response, body)
    assert quota is not None
    assert (quota.concurrent_limit, quota.concurrent_active, quota.daily_remaining) == (3, 1, None)


def test_malformed_quota_headers_are_ignored(provider: SoravideoProvider, respond: Any) -> None:
    headers = {
        "X-RateLimit-Limit": "twenty",
        "X-RateLimit-Remaining": "",
        "X-RateLimit-Reset": "tomorrow",
        "X-Concurrent-Limit": "3.5",
        "X-Concurrent-Active": "2",
    }
    response = respond(provider.status_request(TASK_ID), json=ok(TASK), headers=headers)
    assert provider.quota_from(response, TASK) == Quota(concurrent_active=2)


def test_a_small_reset_value_counts_from_now(provider: SoravideoProvider, respond: Any) -> None:
    # Some relays send seconds-until-reset where the document promises a unix time.
    response = respond(provider.status_request(TASK_ID), headers={"X-RateLimit-Reset": "30"})
    quota = provider.quota_from(response, None)
    assert quota is not None
    assert quota.rate_reset is not None
    now = datetime.now(UTC)
    assert now + timedelta(seconds=25) < quota.rate_reset <= now + timedelta(seconds=30)


def test_no_quota_headers_is_none(provider: SoravideoProvider, respond: Any) -> None:
    response = respond(provider.status_request(TASK_ID), json=ok(TASK))
    assert provider.quota_from(response, TASK) is None


def test_poll_hint_is_retry_after(provider: SoravideoProvider, respond: Any) -> None:
    response = respond(
        provider.status_request(TASK_ID), json=ok(TASK), headers={"Retry-After": "5"}
    )
    assert provider.poll_hint(response) == 5.0
