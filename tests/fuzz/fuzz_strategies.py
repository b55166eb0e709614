"""Hypothesis strategies for hostile answers and odd input.

Random JSON alone seldom hits the keys a protocol reads, so each provider also gets
"shaped" answers: its own keys, each holding either a sensible value or an odd one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
from hypothesis import strategies as st

# -- leaves -----------------------------------------------------------------------------------

ODD_INTS = st.one_of(
    st.integers(),
    st.integers(min_value=-3, max_value=30),
    st.sampled_from([2**63, -(2**63) - 1, 10**400, -(10**400), 253402300799, 10**20]),
)
ODD_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, -0.0, 0.5, 99.9, 1e20]),
)
_CHARS = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),  # lone surrogates: valid in JSON escapes, not in UTF-8
    st.sampled_from("\x00\n\r\t\x7f\u2028\ufeff\U0001f98a/.%?#"),
)
ODD_TEXT = st.text(_CHARS, max_size=30)
WORDS = st.sampled_from(
    [
        "",
        " ",
        "queued",
        "QUEUED",
        "processing",
        "in_progress",
        "pending",
        "completed",
        "failed",
        "running",
        "video_1",
        "a/b",
        "../x",
        "sora-2",
        "sora-2-pro",
        "sora-2-landscape",
        "1280x720",
        "720x1280",
        "16:9",
        "Daily limit reached",
        "insufficient_quota",
        "rate_limit_exceeded",
        "20.09.2025 03:07:58",
        "31.12.9999 23:59:59",
        "2025-09-20T03:07:58Z",
        "2025-09-20T03:07:58",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "1e400",
        "-1e400",
        "nan",
        "inf",
        "-5",
        "18",
        "1.0",
        "https://cdn.example/v.mp4",
        "http://[::1",
        "https://\ud800/x",
        "ftp://x/y",
        "//",
        "\ud800",
    ]
)
LONG_DIGITS = st.sampled_from([4300, 4301, 5000]).map(lambda n: "9" * n)
SCALARS = st.one_of(st.none(), st.booleans(), ODD_INTS, ODD_FLOATS, ODD_TEXT, WORDS, LONG_DIGITS)


def json_values(keys: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Any]:
    """Random JSON values (deep and wide), with dict keys from ``keys`` or random text."""
    key_strategy = st.one_of(keys, ODD_TEXT) if keys is not None else ODD_TEXT
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=6),
            st.dictionaries(key_strategy, children, max_size=6),
        ),
        max_leaves=25,
    )


def odd(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A sensible value half the time, anything else the other half."""
    return st.one_of(
        good,
        good,
        SCALARS,
        st.lists(SCALARS, max_size=3),
        st.dictionaries(ODD_TEXT, SCALARS, max_size=3),
    )


def shaped(fields: Mapping[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object with any subset of ``fields``, plus the odd extra key."""
    return st.fixed_dictionaries({}, optional=dict(fields)).flatmap(
        lambda known: st.dictionaries(ODD_TEXT, SCALARS, max_size=2).map(
            lambda extra: {**extra, **known}
        )
    )


_STAMPS = st.one_of(
    WORDS, ODD_INTS, ODD_FLOATS, st.datetimes().map(lambda d: d.strftime("%d.%m.%Y %H:%M:%S"))
)
_IDS = st.one_of(WORDS, st.text(max_size=12))
_COUNTS = st.one_of(st.integers(min_value=-2, max_value=100), ODD_INTS, WORDS)

# -- codefast ---------------------------------------------------------------------------------

_CODEFAST_JOB = {
    "job_id": odd(_IDS),
    "status": odd(WORDS),
    "queue_position": odd(_COUNTS),
    "total_in_queue": odd(_COUNTS),
    "aspect_ratio": odd(WORDS),
    "model": odd(WORDS),
    "video_url": odd(WORDS),
    "error": odd(WORDS),
    "created_at": odd(_STAMPS),
    "started_at": odd(_STAMPS),
    "completed_at": odd(_STAMPS),
    "daily_limit": odd(_COUNTS),
    "daily_limit_remaining": odd(_COUNTS),
}
_CODEFAST_DETAIL = st.one_of(
    WORDS,
    st.lists(
        shaped({"loc": odd(st.lists(st.one_of(WORDS, ODD_INTS), max_size=3)), "msg": odd(WORDS)}),
        max_size=3,
    ),
    SCALARS,
)
CODEFAST = st.one_of(
    shaped(_CODEFAST_JOB),
    shaped(
        {
            "videos": odd(st.lists(shaped(_CODEFAST_JOB), max_size=4)),
            "daily_limit": odd(_COUNTS),
            "daily_limit_remaining": odd(_COUNTS),
        }
    ),
    shaped({"detail": _CODEFAST_DETAIL, "status": odd(WORDS)}),
)

# -- soravideo --------------------------------------------------------------------------------

_SORAVIDEO_TASK = shaped(
    {
        "task_id": odd(_IDS),
        "status": odd(WORDS),
        "progress": odd(st.one_of(ODD_FLOATS, ODD_INTS)),
        "video_url": odd(WORDS),
        "thumbnail_url": odd(WORDS),
        "error": odd(WORDS),
        "created_at": odd(_STAMPS),
        "completed_at": odd(_STAMPS),
    }
)
SORAVIDEO = shaped(
    {
        "code": odd(
            st.sampled_from([200, 200, 400, 401, 404, 429, 500, 1001, 2001, 2002, 2003, 3001])
            | ODD_INTS
            | st.sampled_from(["200", 200.0, True])
        ),
        "msg": odd(WORDS),
        "error": odd(WORDS),
        "retryAfter": odd(st.one_of(ODD_FLOATS, ODD_INTS)),
        "data": st.one_of(
            _SORAVIDEO_TASK,
            shaped({"url": odd(WORDS), "credits": odd(_COUNTS), "retryAfter": odd(ODD_FLOATS)}),
            SCALARS,
        ),
    }
)

# -- openai -----------------------------------------------------------------------------------

_OPENAI_ERROR = shaped({"message": odd(WORDS), "type": odd(WORDS), "code": odd(WORDS)})
_OPENAI_VIDEO = shaped(
    {
        "id": odd(_IDS),
        "object": odd(st.just("video")),
        "status": odd(WORDS),
        "model": odd(WORDS),
        "progress": odd(st.one_of(ODD_FLOATS, ODD_INTS)),
        "size": odd(WORDS),
        "seconds": odd(WORDS),
        "created_at": odd(_STAMPS),
        "completed_at": odd(_STAMPS),
        "error": odd(_OPENAI_ERROR),
    }
)
OPENAI = st.one_of(
    _OPENAI_VIDEO,
    shaped(
        {
            "data": odd(st.lists(_OPENAI_VIDEO, max_size=4)),
            "last_id": odd(_IDS),
            "has_more": odd(st.booleans()),
        }
    ),
    shaped({"error": odd(_OPENAI_ERROR)}),
    shaped({"id": odd(_IDS), "deleted": odd(st.booleans())}),
)

SHAPED: Mapping[str, st.SearchStrategy[Any]] = {
    "codefast": CODEFAST,
    "soravideo": SORAVIDEO,
    "openai": OPENAI,
}
PROTOCOL_KEYS = st.sampled_from(
    sorted({*_CODEFAST_JOB, "videos", "detail", "code", "msg", "data", "url", "credits", "id"})
)

# -- bodies -----------------------------------------------------------------------------------


def _dumps(value: Any) -> bytes:
    # Lone surrogates are escaped (\ud800), as a JSON server may send them; NaN goes out bare.
    return json.dumps(value, allow_nan=True).encode()


def _nested(depth: int, kind: int) -> bytes:
    opening, closing = [(b"[", b"]"), (b'{"data":', b"}"), (b'{"detail":[', b"]}")][kind]
    return opening * depth + b"1" + closing * depth


def _bodies(provider: str) -> st.SearchStrategy[bytes]:
    """Answer bodies: shaped JSON, random JSON, random bytes and the classic bombs."""
    shaped_json = SHAPED[provider]
    return st.one_of(
        shaped_json.map(_dumps),
        shaped_json.map(_dumps),
        json_values(keys=PROTOCOL_KEYS).map(_dumps),
        st.binary(max_size=64),
        st.builds(
            _nested,
            st.sampled_from([1, 2, 64, 65, 500, 990, 1000, 3000, 100_000]),
            st.integers(0, 2),
        ),
        st.sampled_from([4300, 4301, 10_000]).map(
            lambda n: b'{"code": 200, "data": {"progress": ' + b"9" * n + b"}}"
        ),
        st.tuples(shaped_json.map(_dumps), st.integers(min_value=0, max_value=40)).map(
            lambda pair: pair[0][: pair[1]]
        ),
        st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b'{"a": NaN}', b"\xff\xfe{", b""]),
        shaped_json.map(
            lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")
        ),
    )


BODIES = {name: _bodies(name) for name in SHAPED}

STATUSES = st.one_of(
    st.sampled_from(
        [200, 200, 200, 201, 204, 400, 401, 402, 403, 404, 408, 422, 429, 500, 502, 503]
    ),
    st.integers(min_value=100, max_value=599),
)

_HEADER_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=30
)
_HTTP_DATES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
).map(lambda d: format_datetime(d, usegmt=True))
HEADER_VALUES = st.one_of(
    _HEADER_TEXT,
    ODD_INTS.map(str),
    ODD_FLOATS.map(repr),
    _HTTP_DATES,
    st.sampled_from(
        [
            "0",
            "-1",
            "1e400",
            "nan",
            "-nan",
            "inf",
            "253402300799",
            "80000h",
            "6m0s",
            "1.5s",
            "20ms",
            "9" * 400 + "h",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 01 Jan 0001 00:00:00 -2359",
            "Tue, 99 Foo 2015 99:99:99 +9999",
        ]
    ),
)
HEADER_NAMES = st.sampled_from(
    [
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-concurrent-limit",
        "x-concurrent-active",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
        "openai-poll-after-ms",
        "content-type",
        "content-length",
    ]
)
HEADERS = st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=6)


def response(status: int, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
    request = httpx.Request("GET", "https://example.test/api/v1/videos/x")
    # Raw bytes, as they come off the wire (a server may send any Latin-1 octet).
    raw = [(k.encode(), v.encode("latin-1")) for k, v in headers.items() if k != "content-length"]
    return httpx.Response(status, content=body, headers=raw, request=request)


# -- input ------------------------------------------------------------------------------------

INPUT_TEXT = st.one_of(
    ODD_TEXT,
    st.sampled_from(
        [
            "ok",
            "a red fox",
            "16:9",
            "9:16",
            "1:1",
            "4:3",
            "sora-2",
            "sora-2-pro",
            "sora-2-landscape",
            "sora-2-portrait",
            "standard",
            "high",
            "1280x720",
            "720x1280",
            "1792x1024",
            "true",
            "false",
            "no",
            "yes",
            "8",
            "10",
            "\uff11\uff10",  # fullwidth digits
            "²",
            "1_0",
            " 10 ",
            "https://example.test/cat.png",
            "http://example.test/cat.png",
            "http://[::1",
            "https://\ud800/",
            "ftp://x/y",
            "data:image/png;base64,AAAA",
            "x" * 2001,
        ]
    ),
)
INPUT_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    ODD_INTS,
    ODD_FLOATS,
    INPUT_TEXT,
    st.sampled_from([4, 5, 8, 10, 12, 15]),
    st.binary(max_size=16),
    st.sampled_from([b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, b"\xff\xd8\xff\xe0", bytearray(b"x")]),
    st.lists(SCALARS, max_size=2),
    st.dictionaries(ODD_TEXT, SCALARS, max_size=2),
    st.sampled_from([Path("cat.png"), Path(""), object(), 1j]),
)
FIELD_NAMES = (
    "prompt",
    "image",
    "aspect_ratio",
    "model",
    "duration",
    "quality",
    "negative_prompt",
    "pro",
    "size",
    "seconds",
)
PARAMS = st.dictionaries(
    st.one_of(st.sampled_from(FIELD_NAMES), ODD_TEXT), INPUT_VALUES, max_size=5
)
