"""Hostile answers each provider must turn into a typed error (or ignore, for hints).

Each case was found by a probe or the fuzz tests (tests/fuzz) and escaped the SoraError tree.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sora_async import APIError, ResponseParseError, ServerError
from sora_async.providers import get_provider
from sora_async.providers.base import parse_duration, parse_retry_after, parse_timestamp

PROVIDERS = ("codefast", "soravideo", "openai")
DEEP = b"[" * 100_000 + b"]" * 100_000
JUST_TOO_DEEP = b"[" * 1_000 + b"]" * 1_000
HUGE_INT = b'{"job_id": "j", "status": "queued", "queue_position": ' + b"9" * 5000 + b"}"


def answer(
    status: int = 200, body: bytes | str = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("GET", "https://example.test/v1/videos/x")
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers=headers, request=request)


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("body", [DEEP, JUST_TOO_DEEP, HUGE_INT], ids=["deep", "1000", "int"])
def test_unreadable_json_is_a_parse_error(name: str, body: bytes) -> None:
    with pytest.raises(ResponseParseError) as caught:
        get_provider(name).unwrap(answer(200, body))
    assert caught.value.status_code == 200
    assert len(str(caught.value)) < 1000


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("body", [DEEP, HUGE_INT], ids=["deep", "int"])
def test_an_error_status_with_unreadable_json_is_the_status_error(name: str, body: bytes) -> None:
    with pytest.raises(ServerError) as caught:
        get_provider(name).unwrap(answer(503, body))
    assert caught.value.status_code == 503


@pytest.mark.parametrize(
    "content",
    [
        b'{"id": "j", "n": [1, 2.5, {"x": null}]}',
        '{"id": "j\u00e9"}'.encode("utf-16"),
        '{"id": "j"}'.encode("utf-16-le"),
        '{"id": "j"}'.encode("utf-32"),
        b'\xef\xbb\xbf{"id": "j"}',
        b'{"id": "\\ud800"}',
        b'{"id": "j"} trailing',
        b"\xff\xfe\x00",
        b"",
    ],
)
def test_answers_are_decoded_as_json_loads_decodes_them(content: bytes) -> None:
    # The readers keep one decoder for all answers; what it reads must not change.
    from sora_async.providers.base import _loads

    try:
        expected = json.loads(content)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            _loads(content)
    else:
        assert _loads(content) == expected


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_json_constants_are_refused(name: str, constant: str) -> None:
    with pytest.raises(ResponseParseError):
        get_provider(name).unwrap(answer(200, f'{{"progress": {constant}}}'))


PAYLOADS: dict[str, dict[str, Any]] = {
    "codefast": {"job_id": "j", "status": "completed", "completed_at": 10**20},
    "soravideo": {"task_id": "j", "status": "completed", "completed_at": 1e300},
    "openai": {"id": "j", "status": "completed", "created_at": 10**400},
}


@pytest.mark.parametrize("name", PROVIDERS)
def test_an_absurd_unix_time_is_a_parse_error(name: str) -> None:
    with pytest.raises(ResponseParseError):
        get_provider(name).parse_job(PAYLOADS[name])


@pytest.mark.parametrize("value", [10**20, 1e300, -1e300, 10**400, math.nan, math.inf, True, []])
def test_parse_timestamp_raises_only_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_timestamp(value)


def test_a_timestamp_read_again_is_the_same_and_a_bad_one_stays_bad() -> None:
    # Texts are read once and remembered (polls repeat them); refusals are not remembered.
    for _ in range(2):
        assert parse_timestamp(" 20.09.2025 03:07:58") == datetime(
            2025, 9, 20, 3, 7, 58, tzinfo=UTC
        )
        assert parse_timestamp("2025-09-20T03:07:58") == datetime(2025, 9, 20, 3, 7, 58, tzinfo=UTC)
        assert parse_timestamp(1758337678) == datetime(2025, 9, 20, 3, 7, 58, tzinfo=UTC)
        with pytest.raises(ValueError, match="not a timestamp"):
            parse_timestamp("32.09.2025 03:07:58")
        with pytest.raises(ValueError, match="not a timestamp"):
            parse_timestamp(True)


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("soravideo", {"task_id": "j", "progress": 1e400}),
        ("openai", {"id": "j", "status": "in_progress", "progress": math.nan}),
    ],
)
def test_a_non_finite_progress_is_a_parse_error(name: str, payload: dict[str, Any]) -> None:
    with pytest.raises(ResponseParseError):
        get_provider(name).parse_job(payload)


@pytest.mark.parametrize("name", PROVIDERS)
def test_an_id_that_cannot_be_sent_back_is_a_parse_error(name: str) -> None:
    # A lone surrogate cannot go into a URL; replacing it would name another job.
    key = {"codefast": "job_id", "soravideo": "task_id", "openai": "id"}[name]
    with pytest.raises(ResponseParseError):
        get_provider(name).parse_job({key: "job\ud800", "status": "queued"})


@pytest.mark.parametrize(
    ("name", "items", "key"), [("openai", "data", "id"), ("codefast", "videos", "job_id")]
)
def test_a_swept_list_leaves_out_ids_that_are_not_strings(name: str, items: str, key: str) -> None:
    # An unhashable id raised TypeError from "id in only" (only is a set).
    listed = [{key: ["x"], "status": "queued"}, {key: "x", "status": "completed"}]
    page = get_provider(name).parse_list({items: listed}, only={"x"})
    assert [video.id for video in page.videos] == ["x"]


def test_lone_surrogates_in_text_fields_are_replaced() -> None:
    job = get_provider("codefast").parse_job(
        {"job_id": "j", "status": "failed", "error": "bad \ud800 luck"}
    )
    assert job.error is not None
    job.error.encode("utf-8")
    job.model_dump_json()


# -- quota: a bonus, never an error ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "body", "headers"),
    [
        ("codefast", 200, {"daily_limit": 10**400, "daily_limit_remaining": -(10**400)}, {}),
        ("codefast", 200, {"daily_limit": 0, "daily_limit_remaining": -3}, {}),
        ("soravideo", 429, {"code": 2001, "retryAfter": 10**400}, {"x-ratelimit-limit": "0"}),
        ("soravideo", 200, None, {"x-ratelimit-limit": "-5", "x-concurrent-limit": "0"}),
        ("soravideo", 200, None, {"x-ratelimit-remaining": "1e300", "x-ratelimit-reset": "nan"}),
        ("openai", 200, None, {"x-ratelimit-limit-requests": "9" * 400}),
        ("openai", 200, None, {"x-ratelimit-remaining-requests": "-1"}),
    ],
)
def test_absurd_quota_values_are_left_out(
    name: str, status: int, body: Any, headers: dict[str, str]
) -> None:
    provider = get_provider(name)
    quota = provider.quota_from(answer(status, headers=headers), body)
    assert quota is None or quota.is_empty


def test_sane_quota_fields_survive_next_to_absurd_ones() -> None:
    provider = get_provider("soravideo")
    headers = {"x-ratelimit-limit": "20", "x-ratelimit-remaining": "-1", "x-concurrent-limit": "0"}
    quota = provider.quota_from(answer(200, headers=headers), None)
    assert quota is not None
    assert quota.rate_limit == 20
    assert quota.rate_remaining is None and quota.concurrent_limit is None


# -- server hints ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e400", "inf", "nan", "-nan", "9" * 400])
def test_parse_retry_after_ignores_non_finite_values(value: str) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize("value", ["Fri, 31 Dec 9999 23:59:59 +9999", "Tue, 99 Foo 2015 99:99:99"])
def test_parse_retry_after_ignores_impossible_dates(value: str) -> None:
    assert parse_retry_after(value) is None


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e400", "9" * 400 + "h", "-5s"])
def test_parse_duration_ignores_negative_and_non_finite_values(value: str) -> None:
    assert parse_duration(value) is None


@pytest.mark.parametrize("name", PROVIDERS)
def test_an_infinite_retry_hint_in_a_body_is_ignored(name: str) -> None:
    response = answer(429, '{"code": 2001, "retryAfter": 1e400}', {"retry-after": "inf"})
    with pytest.raises(APIError) as caught:
        get_provider(name).unwrap(response)
    assert caught.value.retry_after is None


@pytest.mark.parametrize("hint", ["nan", "-5", "1e400"])
def test_openai_poll_hint_ignores_absurd_values(hint: str) -> None:
    response = answer(200, "{}", {"openai-poll-after-ms": hint, "retry-after": "nan"})
    assert get_provider("openai").poll_hint(response) is None
