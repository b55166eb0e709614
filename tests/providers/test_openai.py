"""OpenAIProvider: requests built and answers read, against API.md section 3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sora_async._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ResponseParseError,
    ServerError,
)
from sora_async._models import GenerationRequest, Job, JobStatus, Quota
from sora_async.providers import ImageData, OpenAIProvider
from sora_async.providers.base import VideoFile

BASE = "https://api.openai.com/v1"
VIDEO_ID = "video_68d7512d07848190"

VIDEO = {
    "id": VIDEO_ID,
    "object": "video",
    "model": "sora-2",
    "status": "queued",
    "progress": 0,
    "created_at": 1758941485,
    "completed_at": None,
    "expires_at": None,
    "size": "1280x720",
    "seconds": "8",
    "remixed_from_video_id": None,
    "error": None,
}


@pytest.fixture
def provider() -> OpenAIProvider:
    return OpenAIProvider()


def req(**kwargs: Any) -> GenerationRequest:
    return GenerationRequest(prompt=kwargs.pop("prompt", "A calico cat playing piano"), **kwargs)


# -- requests ------------------------------------------------------------------------------


def test_minimal_create(provider: OpenAIProvider, json_body: Any) -> None:
    request = provider.submit_request(req(), None)
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/videos")
    assert json_body(request) == {"prompt": "A calico cat playing piano", "model": "sora-2"}


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"pro": True}, {"model": "sora-2-pro"}),
        ({"model": "sora-2-pro"}, {"model": "sora-2-pro"}),
        # The dated snapshots the official protocol lists are sent as named.
        ({"model": "sora-2-2025-10-06"}, {"model": "sora-2-2025-10-06"}),
        ({"model": "sora-2-2025-12-08"}, {"model": "sora-2-2025-12-08"}),
        ({"model": "sora-2-pro-2025-10-06"}, {"model": "sora-2-pro-2025-10-06"}),
        ({"model": "sora-2-pro-2025-10-06", "pro": True}, {"model": "sora-2-pro-2025-10-06"}),
        ({"duration": 8}, {"seconds": "8"}),
        ({"seconds": 12}, {"seconds": "12"}),
        ({"seconds": "4"}, {"seconds": "4"}),
        ({"duration": 4, "seconds": 4}, {"seconds": "4"}),
        ({"aspect_ratio": "16:9"}, {"size": "1280x720"}),
        ({"aspect_ratio": "9:16"}, {"size": "720x1280"}),
        ({"aspect_ratio": "16:9", "size": "1792x1024"}, {"size": "1792x1024"}),
        ({"size": "1024x1792"}, {"size": "1024x1792"}),
    ],
)
def test_create_fields(
    provider: OpenAIProvider, json_body: Any, kwargs: dict[str, Any], fields: dict[str, str]
) -> None:
    body = json_body(provider.submit_request(req(**kwargs), None))
    assert body == {"prompt": "A calico cat playing piano", "model": "sora-2"} | fields


def test_image_bytes_go_as_multipart(provider: OpenAIProvider, multipart: Any, jpeg: bytes) -> None:
    image = ImageData(data=jpeg, mime_type="image/jpeg", filename="ref.jpg")
    request = provider.submit_request(req(duration=8, aspect_ratio="16:9", pro=True), image)
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/videos")
    assert multipart(request) == {
        "prompt": (None, None, b"A calico cat playing piano"),
        "model": (None, None, b"sora-2-pro"),
        "seconds": (None, None, b"8"),
        "size": (None, None, b"1280x720"),
        "input_reference": ("ref.jpg", "image/jpeg", jpeg),
    }


def test_image_url_goes_as_json(provider: OpenAIProvider, json_body: Any) -> None:
    image = ImageData(url="https://cdn.example.com/ref.png")
    assert json_body(provider.submit_request(req(), image)) == {
        "prompt": "A calico cat playing piano",
        "model": "sora-2",
        "input_reference": {"image_url": "https://cdn.example.com/ref.png"},
    }


def test_image_without_bytes_or_url_is_refused(provider: OpenAIProvider) -> None:
    with pytest.raises(InvalidRequestError) as info:
        provider.submit_request(req(), ImageData())
    assert info.value.field == "image"


@pytest.mark.parametrize(
    ("kwargs", "field", "named"),
    [
        ({"prompt": "x" * 32001}, "prompt", ["32001", "32000"]),
        ({"model": "sora-3"}, "model", ["'sora-2'", "'sora-2-pro'"]),
        ({"model": "sora-2", "pro": True}, "model", ["pro=True"]),
        ({"model": "sora-2-2025-12-08", "pro": True}, "model", ["pro=True"]),
        ({"model": "sora-2-2025-01-01"}, "model", ["'sora-2-2025-10-06'"]),
        ({"duration": 5}, "duration", ["4", "8", "12"]),
        ({"seconds": 10}, "seconds", ["4", "8", "12"]),
        ({"duration": 4, "seconds": 8}, "seconds", ["duration 4"]),
        ({"size": "1920x1080"}, "size", ["720x1280", "1280x720", "1024x1792", "1792x1024"]),
        ({"aspect_ratio": "1:1"}, "aspect_ratio", ["'16:9'", "'9:16'"]),
        ({"aspect_ratio": "16:9", "size": "720x1280"}, "size", ["16:9"]),
        ({"aspect_ratio": "9:16", "size": "1792x1024"}, "size", ["9:16"]),
        ({"quality": "high"}, "quality", []),
        ({"negative_prompt": "blur"}, "negative_prompt", []),
    ],
)
def test_validation_errors_name_the_field_and_the_allowed_values(
    provider: OpenAIProvider, kwargs: dict[str, Any], field: str, named: list[str]
) -> None:
    with pytest.raises(InvalidRequestError) as info:
        provider.validate(req(**kwargs))
    assert info.value.field == field
    for word in named:
        assert word in str(info.value)
    with pytest.raises(InvalidRequestError):
        provider.submit_request(req(**kwargs), None)


def test_conflicting_size_names_the_matching_sizes(provider: OpenAIProvider) -> None:
    with pytest.raises(InvalidRequestError) as info:
        provider.validate(req(aspect_ratio="16:9", size="720x1280"))
    assert info.value.allowed == ("1280x720", "1792x1024")


@pytest.mark.parametrize(
    ("kwargs", "url"),
    [
        ({}, f"{BASE}/videos?order=desc"),
        ({"limit": 20}, f"{BASE}/videos?order=desc&limit=20"),
        ({"cursor": "video_1", "limit": 100}, f"{BASE}/videos?order=desc&after=video_1&limit=100"),
    ],
)
def test_list_request(provider: OpenAIProvider, kwargs: dict[str, Any], url: str) -> None:
    request = provider.list_request(**kwargs)
    assert (request.method, str(request.url)) == ("GET", url)


@pytest.mark.parametrize("limit", [0, 101, -1, "5", 2.5, True])
def test_list_limit_is_checked(provider: OpenAIProvider, limit: Any) -> None:
    with pytest.raises(InvalidRequestError, match="between 1 and 100") as info:
        provider.list_request(limit=limit)
    assert info.value.field == "limit"


def test_video_requests(provider: OpenAIProvider, json_body: Any) -> None:
    status = provider.status_request(VIDEO_ID)
    assert (status.method, str(status.url)) == ("GET", f"{BASE}/videos/{VIDEO_ID}")
    delete = provider.delete_request(VIDEO_ID)
    assert (delete.method, str(delete.url)) == ("DELETE", f"{BASE}/videos/{VIDEO_ID}")
    remix = provider.remix_request(VIDEO_ID, "now at night")
    assert (remix.method, str(remix.url)) == ("POST", f"{BASE}/videos/{VIDEO_ID}/remix")
    assert json_body(remix) == {"prompt": "now at night"}
    check = provider.check_key_request()
    assert (check.method, str(check.url)) == ("GET", f"{BASE}/videos?order=desc&limit=1")
    assert provider.quota_request() is None


def test_edit_extend_and_character_requests(provider: OpenAIProvider, json_body: Any) -> None:
    # Paths and shapes of the official package (resources/videos.py), a video named by id
    # in the protocol's JSON form.
    edit = provider.edit_request(VIDEO_ID, "now at night")
    assert (edit.method, str(edit.url)) == ("POST", f"{BASE}/videos/edits")
    assert json_body(edit) == {"prompt": "now at night", "video": {"id": VIDEO_ID}}
    extend = provider.extend_request(VIDEO_ID, "on and on", 8)
    assert (extend.method, str(extend.url)) == ("POST", f"{BASE}/videos/extensions")
    assert json_body(extend) == {"prompt": "on and on", "seconds": "8", "video": {"id": VIDEO_ID}}
    get = provider.character_request("char_1")
    assert (get.method, str(get.url)) == ("GET", f"{BASE}/videos/characters/char_1")


def test_a_character_is_made_from_an_uploaded_video(
    provider: OpenAIProvider, multipart: Any
) -> None:
    video = VideoFile(data=b"\x00\x00\x00\x18ftypisom", mime_type="video/mp4", filename="m.mp4")
    request = provider.create_character_request("Mossy", video)
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/videos/characters")
    assert multipart(request) == {
        "name": (None, None, b"Mossy"),
        "video": ("m.mp4", "video/mp4", video.data),
    }


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda p: p.edit_request(VIDEO_ID, " "), "prompt"),
        (lambda p: p.extend_request(VIDEO_ID, "x" * 32001, 8), "prompt"),
        (lambda p: p.extend_request(VIDEO_ID, "x", 5), "seconds"),
        (lambda p: p.create_character_request("", VideoFile(b"v", "video/mp4", "v.mp4")), "name"),
    ],
)
def test_new_calls_check_their_input(provider: OpenAIProvider, build: Any, field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        build(provider)
    assert info.value.field == field


def test_character_answers(provider: OpenAIProvider) -> None:
    body = {"id": "char_1", "object": "character", "created_at": 1758941485, "name": "Mossy"}
    character = provider.parse_character(body)
    assert (character.id, character.name) == ("char_1", "Mossy")
    assert character.created_at == datetime(2025, 9, 27, 2, 51, 25, tzinfo=UTC)
    assert provider.parse_character({"id": "char_2"}).name is None
    for payload in (None, {"name": "Mossy"}, {"id": ""}, {"id": "c", "created_at": "soon"}):
        with pytest.raises(ResponseParseError, match="unexpected character answer"):
            provider.parse_character(payload)


@pytest.mark.parametrize(("prompt", "field"), [("  ", "prompt"), ("x" * 32001, "prompt")])
def test_remix_prompt_is_checked(provider: OpenAIProvider, prompt: str, field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        provider.remix_request(VIDEO_ID, prompt)
    assert info.value.field == field


@pytest.mark.parametrize("variant", ["video", "thumbnail", "spritesheet"])
def test_content_request_for_any_variant(provider: OpenAIProvider, variant: Any) -> None:
    job = Job(id=VIDEO_ID, status=JobStatus.COMPLETED, raw_status="completed")
    request = provider.content_request(job, variant)
    assert (request.method, str(request.url)) == (
        "GET",
        f"{BASE}/videos/{VIDEO_ID}/content?variant={variant}",
    )
    assert provider.content_needs_auth(request)


def test_unknown_content_variant_is_refused(provider: OpenAIProvider) -> None:
    job = Job(id=VIDEO_ID, status=JobStatus.COMPLETED, raw_status="completed")
    with pytest.raises(InvalidRequestError) as info:
        provider.content_request(job, "poster")  # type: ignore[arg-type]
    assert info.value.field == "variant"


def test_paths_and_base_url_are_overridable() -> None:
    provider = OpenAIProvider(
        base_url="https://relay.example.com/openai/v1/",
        paths={"status": "/video/{video_id}", "content": "/files/{video_id}"},
    )
    assert str(provider.status_request("v1").url) == "https://relay.example.com/openai/v1/video/v1"
    job = provider.parse_job(VIDEO | {"id": "v1", "status": "completed"})
    assert job.video_url == "https://relay.example.com/openai/v1/files/v1"


def test_auth_header_is_bearer(provider: OpenAIProvider) -> None:
    assert provider.auth_headers("sk-1") == {"Authorization": "Bearer sk-1"}


def test_provider_facts() -> None:
    assert OpenAIProvider.name == "openai"
    assert OpenAIProvider.image_transport == "file"
    assert OpenAIProvider.can_list is True


def test_no_request_carries_the_key(provider: OpenAIProvider) -> None:
    job = Job(id=VIDEO_ID, status=JobStatus.COMPLETED, raw_status="completed")
    requests = [
        provider.submit_request(req(), None),
        provider.submit_request(req(), ImageData(data=b"x", mime_type="image/png")),
        provider.status_request(VIDEO_ID),
        provider.list_request(),
        provider.check_key_request(),
        provider.delete_request(VIDEO_ID),
        provider.remix_request(VIDEO_ID, "again"),
        provider.edit_request(VIDEO_ID, "again"),
        provider.extend_request(VIDEO_ID, "again", 4),
        provider.create_character_request("M", VideoFile(b"v", "video/mp4", "v.mp4")),
        provider.character_request("char_1"),
        provider.content_request(job),
    ]
    for request in requests:
        assert "authorization" not in request.headers


# -- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("queued", JobStatus.QUEUED),
        ("in_progress", JobStatus.PROCESSING),
        ("completed", JobStatus.COMPLETED),
        ("failed", JobStatus.FAILED),
        ("moderating", JobStatus.PROCESSING),
    ],
)
def test_video_statuses(provider: OpenAIProvider, word: str, status: JobStatus) -> None:
    job = provider.parse_job(VIDEO | {"status": word})
    assert (job.status, job.raw_status) == (status, word)


def test_queued_video(provider: OpenAIProvider, respond: Any) -> None:
    response = respond(provider.submit_request(req(), None), json=VIDEO)
    job = provider.parse_job(provider.unwrap(response))
    assert (job.id, job.status, job.progress) == (VIDEO_ID, JobStatus.QUEUED, 0.0)
    assert (job.model, job.aspect_ratio) == ("sora-2", "16:9")
    assert job.created_at == datetime(2025, 9, 27, 2, 51, 25, tzinfo=UTC)
    assert (job.video_url, job.completed_at, job.error) == (None, None, None)


def test_completed_video_points_at_its_content(provider: OpenAIProvider) -> None:
    job = provider.parse_job(
        VIDEO | {"status": "completed", "progress": 100, "completed_at": 1758941600}
    )
    assert job.video_url == f"{BASE}/videos/{VIDEO_ID}/content"
    assert job.completed_at == datetime(2025, 9, 27, 2, 53, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            {"code": "moderation_blocked", "message": "Blocked by moderation"},
            "Blocked by moderation",
        ),
        ({"code": "internal_error"}, "internal_error"),
        ({}, None),
    ],
)
def test_failed_video_keeps_the_error(
    provider: OpenAIProvider, error: dict[str, Any], text: str | None
) -> None:
    job = provider.parse_job(VIDEO | {"status": "failed", "error": error})
    assert (job.status, job.error) == (JobStatus.FAILED, text)


@pytest.mark.parametrize(
    ("size", "aspect"), [("720x1280", "9:16"), ("1024x1792", "9:16"), ("", None), ("640x640", None)]
)
def test_aspect_ratio_from_size(provider: OpenAIProvider, size: str, aspect: str | None) -> None:
    assert provider.parse_job(VIDEO | {"size": size}).aspect_ratio == aspect


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"status": "queued"},
        {"id": VIDEO_ID},
        VIDEO | {"id": ""},
        VIDEO | {"created_at": "last week"},
        VIDEO | {"progress": "most"},
        VIDEO | {"error": "boom"},
    ],
)
def test_malformed_video_is_a_parse_error(provider: OpenAIProvider, payload: Any) -> None:
    with pytest.raises(ResponseParseError, match="openai: unexpected video answer"):
        provider.parse_job(payload)


def test_list_page_with_more(provider: OpenAIProvider, respond: Any) -> None:
    body = {
        "object": "list",
        "data": [
            VIDEO | {"id": "video_2", "status": "completed"},
            VIDEO | {"id": "video_1", "status": "in_progress"},
        ],
        "first_id": "video_2",
        "last_id": "video_1",
        "has_more": True,
    }
    page = provider.parse_list(provider.unwrap(respond(provider.list_request(), json=body)))
    assert page.next_cursor == "video_1"
    assert [(v.id, v.status) for v in page.videos] == [
        ("video_2", JobStatus.COMPLETED),
        ("video_1", JobStatus.PROCESSING),
    ]
    assert page.videos[0].video_url == f"{BASE}/videos/video_2/content"
    assert page.videos[1].video_url is None
    assert page.videos[0].created_at == datetime(2025, 9, 27, 2, 51, 25, tzinfo=UTC)


def test_listed_videos_keep_progress_end_time_and_error(provider: OpenAIProvider) -> None:
    # openai lists whole video objects: a job settled from a list loses nothing.
    body = {
        "object": "list",
        "data": [
            VIDEO | {"id": "video_2", "status": "completed", "progress": 100, "completed_at": 1},
            VIDEO | {"id": "video_1", "status": "in_progress", "progress": 42},
            VIDEO | {"id": "video_0", "status": "failed", "error": {"code": "x", "message": "no"}},
        ],
        "has_more": False,
    }
    done, running, failed = provider.parse_list(body).videos
    assert (done.progress, done.completed_at) == (100.0, datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert (running.progress, running.completed_at, running.error) == (42.0, None, None)
    assert (failed.status, failed.error) == (JobStatus.FAILED, "no")


@pytest.mark.parametrize(
    ("extra", "cursor"),
    [
        ({"last_id": "video_1", "has_more": False}, None),
        ({"has_more": True}, "video_1"),
        ({}, None),
        # As the official client pages: null or absent has_more goes on while there is a
        # last_id; only false (or an empty page) ends the listing.
        ({"last_id": "video_1", "has_more": None}, "video_1"),
        ({"last_id": "video_1"}, "video_1"),
        ({"has_more": None}, None),
    ],
)
def test_list_cursor(provider: OpenAIProvider, extra: dict[str, Any], cursor: str | None) -> None:
    body = {"object": "list", "data": [VIDEO | {"id": "video_1"}]} | extra
    assert provider.parse_list(body).next_cursor == cursor


@pytest.mark.parametrize("has_more", [True, None])
def test_an_empty_page_ends_the_listing(provider: OpenAIProvider, has_more: bool | None) -> None:
    body = {"object": "list", "data": [], "last_id": "video_1", "has_more": has_more}
    assert provider.parse_list(body).next_cursor is None


@pytest.mark.parametrize("payload", [None, {"object": "list"}, {"data": [{"id": "x"}]}])
def test_malformed_list_is_a_parse_error(provider: OpenAIProvider, payload: Any) -> None:
    with pytest.raises(ResponseParseError):
        provider.parse_list(payload)


def test_delete_answer(provider: OpenAIProvider, respond: Any) -> None:
    body = {"id": VIDEO_ID, "object": "video.deleted", "deleted": True}
    response = respond(provider.delete_request(VIDEO_ID), json=body)
    assert provider.parse_delete(provider.unwrap(response)) is True
    with pytest.raises(ResponseParseError):
        provider.parse_delete({"id": VIDEO_ID})


# -- errors --------------------------------------------------------------------------------


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@pytest.mark.parametrize(
    ("status", "type_", "code", "kind", "provider_code"),
    [
        (401, "invalid_request_error", "invalid_api_key", AuthenticationError, "invalid_api_key"),
        (404, "invalid_request_error", None, NotFoundError, "invalid_request_error"),
        (400, "invalid_request_error", "invalid_value", BadRequestError, "invalid_value"),
        (429, "requests", "rate_limit_exceeded", RateLimitError, "rate_limit_exceeded"),
        (
            429,
            "insufficient_quota",
            "insufficient_quota",
            InsufficientCreditsError,
            "insufficient_quota",
        ),
        (500, "server_error", None, ServerError, "server_error"),
    ],
)
def test_errors(
    provider: OpenAIProvider,
    respond: Any,
    status: int,
    type_: str,
    code: str | None,
    kind: type[Exception],
    provider_code: str,
) -> None:
    body = error_body(f"message {status}", type_, code)
    response = respond(provider.status_request(VIDEO_ID), status, json=body)
    with pytest.raises(APIError) as info:
        provider.unwrap(response)
    error = info.value
    assert type(error) is kind
    assert (error.status_code, error.provider_code) == (status, provider_code)
    assert error.message == f"message {status}"
    assert error.body == body


def test_rate_limit_reads_retry_after(provider: OpenAIProvider, respond: Any) -> None:
    body = error_body("Rate limit reached", "requests", "rate_limit_exceeded")
    response = respond(
        provider.submit_request(req(), None), 429, json=body, headers={"Retry-After": "20"}
    )
    with pytest.raises(RateLimitError) as info:
        provider.unwrap(response)
    assert info.value.retry_after == 20.0


@pytest.mark.parametrize(
    ("status", "content", "kind"),
    [
        (502, b"<html><h1>502 Bad Gateway</h1></html>", ServerError),
        (503, b'{"error": "overloaded"}', ServerError),
        (400, b'{"error": {"message": 7}}', BadRequestError),
    ],
)
def test_odd_error_bodies_map_by_status(
    provider: OpenAIProvider, respond: Any, status: int, content: bytes, kind: type[Exception]
) -> None:
    response = respond(provider.status_request(VIDEO_ID), status, content=content)
    with pytest.raises(APIError) as info:
        provider.unwrap(response)
    assert type(info.value) is kind
    assert info.value.provider_code is None
    assert info.value.message  # the page itself, shortened: never empty


# -- hints and quota -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "hint"),
    [
        ({"openai-poll-after-ms": "2500"}, 2.5),
        ({"openai-poll-after-ms": "2500", "Retry-After": "9"}, 2.5),
        ({"openai-poll-after-ms": "soon", "Retry-After": "9"}, 9.0),
        ({"openai-poll-after-ms": "-5"}, None),
        ({"Retry-After": "3"}, 3.0),
        ({}, None),
    ],
)
def test_poll_hint(
    provider: OpenAIProvider, respond: Any, headers: dict[str, str], hint: float | None
) -> None:
    response = respond(provider.status_request(VIDEO_ID), json=VIDEO, headers=headers)
    assert provider.poll_hint(response) == hint


def test_quota_from_headers(provider: OpenAIProvider, respond: Any) -> None:
    headers = {
        "x-ratelimit-limit-requests": "50",
        "x-ratelimit-remaining-requests": "49",
        "x-ratelimit-reset-requests": "6m0s",
    }
    response = respond(provider.status_request(VIDEO_ID), json=VIDEO, headers=headers)
    before = datetime.now(UTC)
    quota = provider.quota_from(response, VIDEO)
    assert quota is not None
    assert (quota.rate_limit, quota.rate_remaining) == (50, 49)
    assert quota.rate_reset is not None
    assert (
        before + timedelta(minutes=6)
        <= quota.rate_reset
        <= datetime.now(UTC) + timedelta(minutes=6)
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-ratelimit-limit-requests": "many", "x-ratelimit-reset-requests": "later"},
        {"x-ratelimit-reset-requests": "nan"},
        {"x-ratelimit-reset-requests": "inf"},
    ],
)
def test_malformed_quota_headers_are_ignored(
    provider: OpenAIProvider, respond: Any, headers: dict[str, str]
) -> None:
    response = respond(provider.status_request(VIDEO_ID), json=VIDEO, headers=headers)
    assert provider.quota_from(response, VIDEO) is None


def test_quota_rides_on_errors(provider: OpenAIProvider, respond: Any) -> None:
    body = error_body("Rate limit reached", "requests", "rate_limit_exceeded")
    headers = {"x-ratelimit-remaining-requests": "0"}
    response = respond(provider.status_request(VIDEO_ID), 429, json=body, headers=headers)
    assert provider.quota_from(response, body) == Quota(rate_remaining=0)
