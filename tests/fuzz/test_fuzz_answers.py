"""Any answer a server can send ends in the SoraError tree or in a valid result.

Each example goes through everything the client does with an answer: ``unwrap``, the
``parse_*`` readers, ``quota_from`` and ``poll_hint``, then the next requests built from
what was read (a status poll of the job id, a download of its video URL).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest
from fuzz_strategies import (
    BODIES,
    HEADER_VALUES,
    HEADERS,
    PROTOCOL_KEYS,
    SHAPED,
    STATUSES,
    json_values,
    response,
)
from hypothesis import event, given
from hypothesis import strategies as st

from sora_async import (
    APIError,
    InvalidRequestError,
    Job,
    Quota,
    ResponseParseError,
)
from sora_async.providers import Provider, VideoPage, get_provider
from sora_async.providers._wire import MAX_COUNT
from sora_async.providers.base import parse_duration, parse_retry_after, parse_timestamp

PROVIDERS = ("codefast", "soravideo", "openai")
TRACKED = frozenset({"video_1", "a/b", "x"})
PAYLOADS = {name: st.one_of(SHAPED[name], json_values(keys=PROTOCOL_KEYS)) for name in PROVIDERS}


def _printable(error: Exception) -> None:
    # What a CLI or a log does with an error: it must not fail on the way out.
    str(error).encode("utf-8")
    repr(error).encode("utf-8")


def check_quota(quota: Quota | None) -> None:
    """A quota the budget can act on: limits of at least one, counts of at least zero."""
    if quota is None:
        return
    assert isinstance(quota, Quota)
    quota.model_dump_json()
    for name in ("rate_limit", "concurrent_limit", "daily_limit"):
        value = getattr(quota, name)
        assert value is None or 1 <= value <= MAX_COUNT, (name, value)
    for name in ("rate_remaining", "concurrent_active", "daily_remaining"):
        value = getattr(quota, name)
        assert value is None or 0 <= value <= MAX_COUNT, (name, value)


def check_job(provider: Provider, job: Job) -> None:
    assert isinstance(job, Job) and job.id.strip()
    job.model_dump_json()
    if job.progress is not None:
        assert math.isfinite(job.progress)
    check_quota(job.quota)
    provider.status_request(job.id)
    if job.video_url:
        with contextlib.suppress(InvalidRequestError):
            provider.content_request(job)


def check_page(provider: Provider, page: VideoPage, only: frozenset[str] | None) -> None:
    assert isinstance(page, VideoPage)
    for video in page.videos:
        video.model_dump_json()
        provider.status_request(video.id)
        if only is not None:
            assert video.id in only
    assert page.next_cursor is None or isinstance(page.next_cursor, str)


def read_payload(provider: Provider, payload: Any) -> None:
    """Every reader of a successful answer: a valid result or a typed error."""
    readers = {
        "job": lambda: check_job(provider, provider.parse_job(payload)),
        "list": lambda: check_page(provider, provider.parse_list(payload), None),
        "sweep": lambda: check_page(provider, provider.parse_list(payload, only=TRACKED), TRACKED),
        "quota": lambda: check_quota(provider.parse_quota(payload)),
        "upload": lambda: provider.parse_upload(payload).encode("utf-8"),
        "character": lambda: provider.parse_character(payload).id.encode("utf-8"),
        "key": lambda: isinstance(provider.parse_check_key(payload), bool) or pytest.fail("bool"),
    }
    if hasattr(provider, "parse_delete"):
        readers["delete"] = lambda: provider.parse_delete(payload)
    for name, read in readers.items():
        try:
            read()
        except (ResponseParseError, InvalidRequestError) as error:
            _printable(error)  # a typed error is a fine answer, if it can be shown
        else:
            event(f"{name} read")  # --hypothesis-show-statistics: how often each succeeds


def read_answer(provider: Provider, answer: Any) -> None:
    """What the client does with one answer, in its order."""
    body: Any = None
    failure: APIError | ResponseParseError | None = None
    try:
        body = provider.unwrap(answer)
    except (APIError, ResponseParseError) as error:
        failure = error
    if isinstance(failure, APIError):
        assert failure.status_code == answer.status_code
        check_quota(provider.quota_from(answer, failure.body))
        check_wait(failure.retry_after)
    elif failure is not None:
        check_quota(provider.quota_from(answer, None))
    else:
        check_quota(provider.quota_from(answer, body))
        read_payload(provider, body)
    if failure is not None:
        _printable(failure)
    check_wait(provider.poll_hint(answer))
    error = provider.error_from(answer, body)
    assert isinstance(error, APIError)
    check_wait(error.retry_after)
    _printable(error)


def check_wait(seconds: float | None) -> None:
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0), seconds


@pytest.mark.parametrize("name", PROVIDERS)
@given(data=st.data(), status=STATUSES, headers=HEADERS)
def test_any_body_any_status_any_headers(
    name: str, data: st.DataObject, status: int, headers: dict[str, str]
) -> None:
    body = data.draw(BODIES[name], label="body")
    read_answer(get_provider(name), response(status, body, headers))


@pytest.mark.parametrize("name", PROVIDERS)
@given(data=st.data())
def test_any_decoded_payload(name: str, data: st.DataObject) -> None:
    # Payloads json.loads can produce, handed straight to the readers (no size or depth cap).
    payload = data.draw(PAYLOADS[name], label="payload")
    provider = get_provider(name)
    read_payload(provider, payload)
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict):
        read_payload(provider, payload["data"])  # soravideo's envelope, unwrapped


@given(value=json_values())
def test_parse_timestamp_raises_only_value_error(value: Any) -> None:
    try:
        parsed = parse_timestamp(value)
    except ValueError:
        return
    assert parsed is None or parsed.tzinfo is not None


@given(value=st.one_of(st.none(), HEADER_VALUES, st.text()))
def test_header_readers_return_a_finite_number_or_none(value: str | None) -> None:
    check_wait(parse_retry_after(value))
    check_wait(parse_duration(value))
