"""Rate-limit headers read per provider; a gateway in front of codefast may send them too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from sora_async._models import Quota
from sora_async.providers import get_provider

RESET = 1_900_000_000
HEADERS = {"X-RateLimit-Limit": "8", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": str(RESET)}
CODEFAST_JOB = {"job_id": "j1", "status": "queued", "daily_limit": 20, "daily_limit_remaining": 18}


def answer(headers: dict[str, str], body: Any) -> httpx.Response:
    request = httpx.Request("GET", "https://api.example/x")
    return httpx.Response(200, headers=headers, json=body, request=request)


def test_codefast_behind_a_gateway_keeps_both_the_daily_and_the_rate_fields() -> None:
    quota = get_provider("codefast").quota_from(answer(HEADERS, CODEFAST_JOB), CODEFAST_JOB)
    assert quota == Quota(
        daily_limit=20,
        daily_remaining=18,
        rate_limit=8,
        rate_remaining=3,
        rate_reset=datetime.fromtimestamp(RESET, UTC),
    )


def test_codefast_without_headers_is_as_documented() -> None:
    quota = get_provider("codefast").quota_from(answer({}, CODEFAST_JOB), CODEFAST_JOB)
    assert quota == Quota(daily_limit=20, daily_remaining=18)


@pytest.mark.parametrize("bad", ["-1", "nan", "eight", ""])
def test_a_malformed_header_is_left_out(bad: str) -> None:
    headers = HEADERS | {"X-RateLimit-Remaining": bad}
    quota = get_provider("soravideo").quota_from(answer(headers, {}), {})
    assert quota is not None and quota.rate_remaining is None and quota.rate_limit == 8


def test_openai_reads_its_own_request_headers() -> None:
    headers = {"x-ratelimit-limit-requests": "50", "x-ratelimit-remaining-requests": "49"}
    quota = get_provider("openai").quota_from(
        answer(headers | {"x-ratelimit-reset-requests": "1s"}, {}), {}
    )
    assert quota is not None and (quota.rate_limit, quota.rate_remaining) == (50, 49)
    assert quota.rate_reset is not None
