"""CodefastProvider: requests built and answers read, against API.md section 1 and seed 000."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from sora_async._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    DailyLimitError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ResponseParseError,
    ServerError,
)
from sora_async._models import GenerationRequest, JobStatus, Quota
from sora_async.providers import CodefastProvider, ImageData

BASE = "https://sora-api.codefast.app"
JOB_ID = "2949a83f-ac0c-46a3-a3a2-aad86d2d577d"

# The seed's own examples, verbatim.
SUBMITTED = {
    "job_id": JOB_ID,
    "status": "queued",
    "queue_position": 1,
    "total_in_queue": 1,
    "aspect_ratio": "16:9",
    "model": "sora-2-landscape",
    "daily_limit": 20,
    "daily_limit_remaining": 18,
}
PROCESSING = {
    "job_id": JOB_ID,
    "status": "processing",
    "queue_position": 0,
    "total_in_queue": 0,
    "aspect_ratio": "16:9",
    "model": "sora_video2-landscape-hd",
    "video_url": "",
    "error": "",
    "created_at": "20.09.2025 03:07:58",
    "started_at": "20.09.2025 03:07:59",
    "completed_at": "",
    "daily_limit": 20,
    "daily_limit_remaining": 18,
}
COMPLETED_SHORT = {
    "job_id": JOB_ID,
    "status": "completed",
    "aspect_ratio": "16:9",
    "model": "sora_video2-landscape-hd",
    "video_url": f"https://f003.backblazeb2.com/file/veo3videos/{JOB_ID}.mp4",
    "completed_at": "20.09.2025 03:09:06",
}
LISTED = {
    "count": 4,
    "videos": [
        {
            "job_id": "9343595a-479e-41d7-a34a-88df5ceffa5f",
            "video_url": "https://iframe.mediadelivery.net/play/491799/224feb1d-...",
            "created_at": "20.09.2025 03:05:30",
        }
    ],
    "daily_limit": 20,
    "daily_limit_remaining": 18,
}


@pytest.fixture
def provider() -> CodefastProvider:
    return CodefastProvider()


def req(**kwargs: Any) -> GenerationRequest:
    return GenerationRequest(
        prompt=kwargs.pop("prompt", "A beautiful sunset over mountains"), **kwargs
    )


# -- requests ------------------------------------------------------------------------------


def test_text_submit_matches_the_seed(provider: CodefastProvider, json_body: Any) -> None:
    request = provider.submit_request(req(aspect_ratio="16:9", model="sora-2-landscape"), None)
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/generate"
    assert json_body(request) == {
        "prompt": "A beautiful sunset over mountains",
        "aspect_ratio": "16:9",
        "model": "sora-2-landscape",
    }


@pytest.mark.parametrize(
    ("aspect_ratio", "model", "sent"),
    [
        (None, None, ("16:9", "sora-2-landscape")),
        ("9:16", None, ("9:16", "sora-2-portrait")),
        (None, "sora-2-portrait", ("9:16", "sora-2-portrait")),
        (None, "sora-2-landscape", ("16:9", "sora-2-landscape")),
        ("16:9", "sora-2-landscape", ("16:9", "sora-2-landscape")),
    ],
)
def test_aspect_ratio_and_model_imply_each_other(
    provider: CodefastProvider,
    json_body: Any,
    aspect_ratio: str | None,
    model: str | None,
    sent: tuple[str, str],
) -> None:
    body = json_body(provider.submit_request(req(aspect_ratio=aspect_ratio, model=model), None))
    assert (body["aspect_ratio"], body["model"]) == sent


def test_image_submit_is_the_chat_form_with_a_data_url(
    provider: CodefastProvider, json_body: Any, jpeg: bytes
) -> None:
    image = ImageData(data=jpeg, mime_type="image/jpeg")
    request = provider.submit_request(req(prompt="Make this image come to life"), image)
    data_url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
    assert json_body(request) == {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": data_url}},
                    {"type": "text", "text": "Make this image come to life"},
                ],
            }
        ],
        "aspect_ratio": "16:9",
        "model": "sora-2-landscape",
    }


@pytest.mark.parametrize("url", ["https://cdn.example.com/a.jpg", "http://cdn.example.com/a.png"])
def test_image_url_is_sent_as_is(provider: CodefastProvider, json_body: Any, url: str) -> None:
    body = json_body(provider.submit_request(req(), ImageData(url=url)))
    assert body["messages"][0]["content"][0] == {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize("image", [ImageData(url="ftp://example.com/a.jpg"), ImageData()])
def test_image_without_bytes_or_http_url_is_refused(
    provider: CodefastProvider, image: ImageData
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        provider.submit_request(req(), image)
    assert info.value.field == "image"


@pytest.mark.parametrize(
    ("kwargs", "field", "named"),
    [
        ({"aspect_ratio": "1:1"}, "aspect_ratio", ["'16:9'", "'9:16'"]),
        ({"model": "sora-2"}, "model", ["sora-2-landscape", "sora-2-portrait"]),
        ({"aspect_ratio": "16:9", "model": "sora-2-portrait"}, "model", ["sora-2-landscape"]),
        ({"aspect_ratio": "9:16", "model": "sora-2-landscape"}, "model", ["sora-2-portrait"]),
        ({"prompt": "x" * 4001}, "prompt", ["4001", "4000"]),
        ({"duration": 10}, "duration", []),
        ({"quality": "high"}, "quality", []),
        ({"negative_prompt": "blur"}, "negative_prompt", []),
        ({"pro": True}, "pro", []),
        ({"size": "1280x720"}, "size", []),
        ({"seconds": 8}, "seconds", []),
    ],
)
def test_validation_errors_name_the_field_and_the_allowed_values(
    provider: CodefastProvider, kwargs: dict[str, Any], field: str, named: list[str]
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        provider.validate(req(**kwargs))
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    for word in named:
        assert word in str(info.value)
    # submit_request validates as well: a skipped validate() still cannot send a bad request.
    with pytest.raises(InvalidRequestError):
        provider.submit_request(req(**kwargs), None)


def test_a_prompt_at_the_assumed_limit_is_accepted(provider: CodefastProvider) -> None:
    provider.validate(req(prompt="x" * CodefastProvider.max_prompt_length))


def test_read_requests(provider: CodefastProvider) -> None:
    status = provider.status_request(JOB_ID)
    assert (status.method, str(status.url)) == ("GET", f"{BASE}/status/{JOB_ID}")
    listed = provider.list_request()
    assert (listed.method, str(listed.url)) == ("GET", f"{BASE}/videos")
    quota = provider.quota_request()
    assert (quota.method, str(quota.url)) == ("GET", f"{BASE}/videos")
    check = provider.check_key_request()
    assert (check.method, str(check.url)) == ("GET", f"{BASE}/")


def test_job_ids_are_quoted_into_the_path(provider: CodefastProvider) -> None:
    assert provider.status_request("a/b c").url.raw_path == b"/status/a%2Fb%20c"


def test_repeated_polls_share_the_parsed_url_but_not_the_request(
    provider: CodefastProvider,
) -> None:
    # The URL is parsed once per address; each request is still new, so a header set on
    # one (the key, by the transport) never rides on the next.
    first = provider.status_request(JOB_ID)
    first.headers["X-API-Key"] = "sk-1"
    second = provider.status_request(JOB_ID)
    assert second is not first and "X-API-Key" not in second.headers
    assert second.url == first.url
    provider.base_url = "http://127.0.0.1:9001"
    assert str(provider.status_request(JOB_ID).url) == f"http://127.0.0.1:9001/status/{JOB_ID}"


def test_assumed_paths_and_base_url_are_overridable() -> None:
    provider = CodefastProvider(
        base_url="http://127.0.0.1:9000/", paths={"status": "/jobs/{job_id}", "list": "/v2/list"}
    )
    assert str(provider.status_request("j1").url) == "http://127.0.0.1:9000/jobs/j1"
    assert str(provider.list_request().url) == "http://127.0.0.1:9000/v2/list"
    assert str(provider.submit_request(req(), None).url) == "http://127.0.0.1:9000/generate"


def test_unknown_path_name_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as info:
        CodefastProvider(paths={"stats": "/x"})
    assert info.value.field == "paths"
    assert "status" in info.value.allowed


def test_auth_header_is_x_api_key(provider: CodefastProvider) -> None:
    assert provider.auth_headers("k-123") == {"X-API-Key": "k-123"}


def test_provider_facts() -> None:
    assert CodefastProvider.name == "codefast"
    assert CodefastProvider.limits.daily_limit == 20
    assert CodefastProvider.image_transport == "inline"
    assert CodefastProvider.can_list is True


# -- answers -------------------------------------------------------------------------------


def test_submit_answer(provider: CodefastProvider, respond: Any) -> None:
    response = respond(provider.submit_request(req(), None), json=SUBMITTED)
    job = provider.parse_job(provider.unwrap(response))
    assert job.id == JOB_ID
    assert (job.status, job.raw_status) == (JobStatus.QUEUED, "queued")
    assert (job.queue_position, job.queue_size) == (1, 1)
    assert (job.model, job.aspect_ratio) == ("sora-2-landscape", "16:9")
    assert job.quota == Quota(daily_limit=20, daily_remaining=18)
    assert provider.quota_from(response, SUBMITTED) == Quota(daily_limit=20, daily_remaining=18)


def test_answers_with_the_same_daily_fields_share_one_quota(
    provider: CodefastProvider, respond: Any
) -> None:
    # The client compares each answer's quota with the last by identity first.
    response = respond(provider.status_request(JOB_ID), json=PROCESSING)
    quota = provider.quota_from(response, PROCESSING)
    assert quota is provider.parse_job(PROCESSING).quota
    assert quota is provider.quota_from(response, dict(PROCESSING))
    fewer = provider.quota_from(response, {**PROCESSING, "daily_limit_remaining": 17})
    assert fewer == Quota(daily_limit=20, daily_remaining=17)
    assert quota == Quota(daily_limit=20, daily_remaining=18)


@pytest.mark.parametrize("name", ["X-RateLimit-Remaining", "x-ratelimit-remaining"])
def test_a_gateways_rate_headers_join_the_daily_fields(
    provider: CodefastProvider, respond: Any, name: str
) -> None:
    headers = {"Server": "gateway", name: "7", "X-RATELIMIT-LIMIT": "60"}
    response = respond(provider.status_request(JOB_ID), json=PROCESSING, headers=headers)
    quota = provider.quota_from(response, PROCESSING)
    assert quota == Quota(daily_limit=20, daily_remaining=18, rate_limit=60, rate_remaining=7)
    plain = respond(provider.status_request(JOB_ID), json=PROCESSING, headers={"X-Rate": "1"})
    assert provider.quota_from(plain, PROCESSING) == Quota(daily_limit=20, daily_remaining=18)


def test_processing_answer_reads_empty_strings_as_none(provider: CodefastProvider) -> None:
    job = provider.parse_job(PROCESSING)
    assert job.status is JobStatus.PROCESSING
    assert (job.queue_position, job.queue_size) == (0, 0)
    # The status answer names the model that runs the job: the requested one stays `model`.
    assert (job.model, job.provider_model) == ("sora-2-landscape", "sora_video2-landscape-hd")
    assert (job.video_url, job.error, job.completed_at) == (None, None, None)
    assert job.created_at == datetime(2025, 9, 20, 3, 7, 58, tzinfo=UTC)
    assert job.started_at == datetime(2025, 9, 20, 3, 7, 59, tzinfo=UTC)
    assert job.quota == Quota(daily_limit=20, daily_remaining=18)


def test_short_completed_answer(provider: CodefastProvider, respond: Any) -> None:
    job = provider.parse_job(COMPLETED_SHORT)
    assert job.status is JobStatus.COMPLETED
    assert job.video_url == COMPLETED_SHORT["video_url"]
    assert job.completed_at == datetime(2025, 9, 20, 3, 9, 6, tzinfo=UTC)
    assert (job.queue_position, job.queue_size, job.quota, job.created_at) == (None,) * 4
    # The short answer keeps what the longer one said, once merged.
    assert provider.parse_job(PROCESSING).updated(job).created_at is not None
    response = respond(provider.status_request(JOB_ID), json=COMPLETED_SHORT)
    assert provider.quota_from(response, COMPLETED_SHORT) is None


def test_each_model_field_keeps_its_value_from_submit_to_completion(
    provider: CodefastProvider,
) -> None:
    job = provider.parse_job(SUBMITTED)
    seen = [(job.model, job.provider_model)]
    for answer in (PROCESSING, COMPLETED_SHORT):
        job = job.updated(provider.parse_job(answer))
        seen.append((job.model, job.provider_model))
    assert seen == [
        ("sora-2-landscape", None),  # the submit answer only echoes the request
        ("sora-2-landscape", "sora_video2-landscape-hd"),
        ("sora-2-landscape", "sora_video2-landscape-hd"),
    ]
    portrait = provider.parse_job(PROCESSING | {"aspect_ratio": "9:16", "model": "hd-portrait"})
    assert (portrait.model, portrait.provider_model) == ("sora-2-portrait", "hd-portrait")


def test_failed_answer_keeps_the_error(provider: CodefastProvider) -> None:
    job = provider.parse_job(PROCESSING | {"status": "failed", "error": "content policy"})
    assert (job.status, job.error) == (JobStatus.FAILED, "content policy")


def test_timestamps_are_day_first(provider: CodefastProvider) -> None:
    job = provider.parse_job(PROCESSING | {"created_at": "02.03.2025 10:00:00"})
    assert job.created_at == datetime(2025, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("word", ["rendering", "Uploading"])
def test_unknown_status_is_processing_with_the_word_kept(
    provider: CodefastProvider, word: str
) -> None:
    job = provider.parse_job(PROCESSING | {"status": word})
    assert (job.status, job.raw_status) == (JobStatus.PROCESSING, word)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "queued",
        {"status": "queued"},
        {"job_id": "", "status": "queued"},
        {"job_id": JOB_ID},
        PROCESSING | {"status": ""},
        PROCESSING | {"created_at": "31.02.2025 10:00:00"},
        PROCESSING | {"created_at": "20/09/2025 03:07"},
        PROCESSING | {"queue_position": "first"},
        PROCESSING | {"video_url": 12},
    ],
)
def test_malformed_job_is_a_parse_error(provider: CodefastProvider, payload: Any) -> None:
    with pytest.raises(ResponseParseError) as info:
        provider.parse_job(payload)
    assert info.value.message.startswith("codefast: unexpected job answer")


def test_non_json_success_is_a_parse_error(provider: CodefastProvider, respond: Any) -> None:
    response = respond(provider.status_request(JOB_ID), content=b"<html>ok</html>")
    with pytest.raises(ResponseParseError) as info:
        provider.unwrap(response)
    assert "<html>ok</html>" in str(info.value)


def test_list_answer(provider: CodefastProvider, respond: Any) -> None:
    response = respond(provider.list_request(), json=LISTED)
    page = provider.parse_list(provider.unwrap(response))
    assert page.next_cursor is None
    [video] = page.videos
    assert video.id == "9343595a-479e-41d7-a34a-88df5ceffa5f"
    assert video.status is JobStatus.COMPLETED
    assert video.video_url == "https://iframe.mediadelivery.net/play/491799/224feb1d-..."
    assert video.created_at == datetime(2025, 9, 20, 3, 5, 30, tzinfo=UTC)
    assert provider.quota_from(response, LISTED) == Quota(daily_limit=20, daily_remaining=18)
    assert provider.parse_quota(LISTED) == Quota(daily_limit=20, daily_remaining=18)


def test_empty_list(provider: CodefastProvider) -> None:
    assert provider.parse_list({"count": 0, "videos": []}).videos == []


@pytest.mark.parametrize(
    "payload", [None, {"count": 1}, {"videos": [{"video_url": "x"}]}, {"videos": "none"}]
)
def test_malformed_list_is_a_parse_error(provider: CodefastProvider, payload: Any) -> None:
    with pytest.raises(ResponseParseError):
        provider.parse_list(payload)


def test_malformed_quota_is_a_parse_error(provider: CodefastProvider) -> None:
    with pytest.raises(ResponseParseError):
        provider.parse_quota({"daily_limit": "lots"})


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"message": "Video Generator API", "status": "running"}, True),
        ({"message": "Video Generator API", "status": "maintenance"}, False),
        ({"message": "Video Generator API"}, False),
    ],
)
def test_check_key(provider: CodefastProvider, body: Any, ok: bool) -> None:
    assert provider.parse_check_key(body) is ok


# -- errors --------------------------------------------------------------------------------

VALIDATION_DETAIL = [
    {"loc": ["body", "prompt"], "msg": "field required", "type": "value_error.missing"},
    {"loc": ["body", "aspect_ratio"], "msg": "unexpected value", "type": "value_error"},
]


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (401, {"detail": "Invalid API key"}, AuthenticationError, "Invalid API key"),
        (403, {"detail": "Not authenticated"}, AuthenticationError, "Not authenticated"),
        (404, {"detail": "Job not found"}, NotFoundError, "Job not found"),
        (
            422,
            {"detail": VALIDATION_DETAIL},
            BadRequestError,
            "body.prompt: field required; body.aspect_ratio: unexpected value",
        ),
        (422, {"detail": ["odd"]}, BadRequestError, "odd"),
        (429, {"detail": "Daily limit reached"}, DailyLimitError, "Daily limit reached"),
        (429, {"detail": "Too many requests"}, RateLimitError, "Too many requests"),
        (500, {"detail": "Internal Server Error"}, ServerError, "Internal Server Error"),
        (503, {"detail": ""}, ServerError, '{"detail":""}'),
    ],
)
def test_errors(
    provider: CodefastProvider,
    respond: Any,
    status: int,
    body: Any,
    kind: type[Exception],
    message: str,
) -> None:
    response = respond(provider.status_request(JOB_ID), status, json=body)
    with pytest.raises(APIError) as info:
        provider.unwrap(response)
    error = info.value
    assert type(error) is kind
    assert (error.status_code, error.provider_code) == (status, None)
    assert error.message == message
    assert error.body == body


def test_daily_limit_empties_the_quota(provider: CodefastProvider, respond: Any) -> None:
    body = {"detail": "Daily limit reached", "daily_limit": 20}
    response = respond(provider.submit_request(req(), None), 429, json=body)
    assert provider.quota_from(response, body) == Quota(daily_limit=20, daily_remaining=0)


def test_rate_limit_reads_retry_after(provider: CodefastProvider, respond: Any) -> None:
    response = respond(
        provider.status_request(JOB_ID),
        429,
        json={"detail": "Too many requests"},
        headers={"Retry-After": "7"},
    )
    with pytest.raises(RateLimitError) as info:
        provider.unwrap(response)
    assert info.value.retry_after == 7.0
    assert provider.poll_hint(response) == 7.0
    assert provider.quota_from(response, {"detail": "Too many requests"}) is None


def test_html_502_is_a_server_error(provider: CodefastProvider, respond: Any) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    response = respond(provider.status_request(JOB_ID), 502, content=page)
    with pytest.raises(ServerError) as info:
        provider.unwrap(response)
    assert "502 Bad Gateway" in info.value.message
    assert provider.quota_from(response, None) is None


@pytest.mark.parametrize(
    "body", [None, "text", [1, 2], {"daily_limit": "x", "daily_limit_remaining": None}]
)
def test_quota_from_odd_bodies_is_none(provider: CodefastProvider, respond: Any, body: Any) -> None:
    response = respond(provider.status_request(JOB_ID), 500, json=body)
    assert provider.quota_from(response, body) is None


def test_no_request_carries_the_key(provider: CodefastProvider) -> None:
    requests = [
        provider.submit_request(req(), None),
        provider.submit_request(req(), ImageData(url="https://x.test/a.jpg")),
        provider.status_request(JOB_ID),
        provider.list_request(),
        provider.quota_request(),
        provider.check_key_request(),
    ]
    for request in requests:
        assert "x-api-key" not in request.headers
        assert "authorization" not in request.headers


@pytest.mark.parametrize("operation", ["upload_request", "delete_request"])
def test_operations_it_lacks_are_refused(provider: CodefastProvider, operation: str) -> None:
    with pytest.raises(InvalidRequestError, match="codefast provider does not support"):
        getattr(provider, operation)(JOB_ID)
