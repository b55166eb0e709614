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

from sora_async import GenerationRequest

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


ODD = st.one_of(
    SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(ODD_TEXT, SCALARS, max_size=3)
)


def answer(
    required: Mapping[str, st.SearchStrategy[Any]],
    optional: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """A valid answer (every required key, some optional ones), then up to two keys spoiled
    with odd values, plus the odd unknown key: mostly right, as a real server is."""
    keys = sorted({*required, *(optional or {})})
    return st.tuples(
        st.fixed_dictionaries(dict(required), optional=dict(optional or {})),
        st.dictionaries(st.sampled_from(keys), ODD, max_size=2),
        st.dictionaries(ODD_TEXT, SCALARS, max_size=1),
    ).map(lambda parts: {**parts[2], **parts[0], **parts[1]})


_IDS = st.one_of(
    st.sampled_from(["video_1", "a/b", "x", "2949a83f-ac0c-46a3-a3a2-aad86d2d577d"]),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-_/. ", min_size=1, max_size=12),
)
_COUNTS = st.integers(min_value=0, max_value=100)
_URLS = st.sampled_from(["https://cdn.example/v.mp4", "https://cdn.example/a%20b.mp4", ""])
_TEXT = st.one_of(st.text(max_size=20), WORDS)
_MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
_DAY_FIRST = st.one_of(st.just(""), _MOMENTS.map(lambda d: d.strftime("%d.%m.%Y %H:%M:%S")))
_ISO = _MOMENTS.map(lambda d: d.isoformat() + "Z")
_UNIX = st.integers(min_value=946684800, max_value=4102444800)
_PROGRESS = st.one_of(st.integers(0, 100), st.floats(0, 100))

# -- codefast ---------------------------------------------------------------------------------

_CODEFAST_QUOTA = {"daily_limit": st.just(20), "daily_limit_remaining": _COUNTS}
_CODEFAST_JOB = {
    "queue_position": _COUNTS,
    "total_in_queue": _COUNTS,
    "aspect_ratio": st.sampled_from(["16:9", "9:16"]),
    "model": st.sampled_from(["sora-2-landscape", "sora_video2-landscape-hd"]),
    "video_url": _URLS,
    "error": st.one_of(st.just(""), _TEXT),
    "created_at": _DAY_FIRST,
    "started_at": _DAY_FIRST,
    "completed_at": _DAY_FIRST,
    **_CODEFAST_QUOTA,
}
_CODEFAST_STATUS = st.sampled_from(["queued", "processing", "completed", "failed", "running"])
_CODEFAST_VIDEO = answer(
    {"job_id": _IDS}, {"video_url": _URLS, "created_at": _DAY_FIRST, "status": _CODEFAST_STATUS}
)
_CODEFAST_PROBLEM = answer({"loc": st.lists(st.one_of(WORDS, _COUNTS), max_size=3), "msg": _TEXT})
CODEFAST = st.one_of(
    answer({"job_id": _IDS, "status": _CODEFAST_STATUS}, _CODEFAST_JOB),
    answer(
        {"videos": st.lists(_CODEFAST_VIDEO, max_size=4)}, {"count": _COUNTS, **_CODEFAST_QUOTA}
    ),
    answer({"detail": st.one_of(_TEXT, st.lists(_CODEFAST_PROBLEM, max_size=3))}),
    answer({"status": st.sampled_from(["running", "down"])}, {"message": _TEXT}),
)

# -- soravideo --------------------------------------------------------------------------------

_SORAVIDEO_TASK = answer(
    {"task_id": _IDS},
    {
        "status": st.sampled_from(["pending", "processing", "completed", "failed", "odd"]),
        "progress": _PROGRESS,
        "video_url": _URLS,
        "thumbnail_url": _URLS,
        "error": _TEXT,
        "created_at": st.one_of(_ISO, _UNIX),
        "completed_at": st.one_of(_ISO, _UNIX),
    },
)
_SORAVIDEO_CODES = st.sampled_from(
    [200] * 10 + [400, 401, 404, 429, 500, 1001, 2001, 2002, 2003, 3001, 9999]
)
SORAVIDEO = answer(
    {
        "code": _SORAVIDEO_CODES,
        "data": st.one_of(
            _SORAVIDEO_TASK,
            _SORAVIDEO_TASK,
            answer({"url": _URLS}),
            answer({"credits": _COUNTS}),
            answer({"retryAfter": st.floats(0, 120)}),
            st.none(),
        ),
    },
    {"msg": _TEXT, "error": _TEXT, "retryAfter": st.floats(0, 120)},
)

# -- openai -----------------------------------------------------------------------------------

_OPENAI_ERROR = answer({"message": _TEXT}, {"type": _TEXT, "code": WORDS})
_OPENAI_VIDEO = answer(
    {
        "id": _IDS,
        "status": st.sampled_from(["queued", "in_progress", "completed", "failed", "odd"]),
    },
    {
        "object": st.just("video"),
        "model": st.sampled_from(["sora-2", "sora-2-pro"]),
        "progress": _PROGRESS,
        "size": st.sampled_from(["1280x720", "720x1280", "1792x1024", "640x480"]),
        "seconds": st.sampled_from(["4", "8", "12"]),
        "created_at": _UNIX,
        "completed_at": st.one_of(st.none(), _UNIX),
        "error": st.one_of(st.none(), _OPENAI_ERROR),
    },
)
OPENAI = st.one_of(
    _OPENAI_VIDEO,
    answer(
        {"data": st.lists(_OPENAI_VIDEO, max_size=4)},
        {"object": st.just("list"), "last_id": _IDS, "has_more": st.booleans()},
    ),
    answer({"error": _OPENAI_ERROR}),
    answer({"id": _IDS, "deleted": st.booleans()}, {"object": st.just("video.deleted")}),
)

SHAPED: Mapping[str, st.SearchStrategy[Any]] = {
    "codefast": CODEFAST,
    "soravideo": SORAVIDEO,
    "openai": OPENAI,
}
PROTOCOL_KEYS = st.sampled_from(
    sorted({*_CODEFAST_JOB, "job_id", "status", "videos", "detail", "code", "msg", "data", "id"})
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
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
_IMAGES = st.sampled_from([PNG, "https://example.test/cat.png", "http://example.test/c.png"])
#: Values each provider accepts, field by field (a combination may still be refused).
GOOD_FIELDS: Mapping[str, Mapping[str, st.SearchStrategy[Any]]] = {
    "codefast": {
        "image": _IMAGES,
        "aspect_ratio": st.sampled_from(["16:9", "9:16"]),
        "model": st.sampled_from(["sora-2-landscape", "sora-2-portrait"]),
    },
    "soravideo": {
        "image": _IMAGES,
        "aspect_ratio": st.sampled_from(["16:9", "9:16", "1:1"]),
        "model": st.sampled_from(["sora-2", "sora-2-pro"]),
        "duration": st.sampled_from([10, 15, "10"]),
        "quality": st.sampled_from(["standard", "high"]),
        "negative_prompt": st.sampled_from(["blur", "text"]),
        "pro": st.sampled_from([True, "true"]),
    },
    "openai": {
        "image": _IMAGES,
        "aspect_ratio": st.sampled_from(["16:9", "9:16"]),
        "model": st.sampled_from(["sora-2", "sora-2-pro"]),
        "duration": st.sampled_from([4, 8, 12]),
        "pro": st.sampled_from([False, "false"]),
        "size": st.sampled_from(["1280x720", "720x1280", "1792x1024"]),
        "seconds": st.sampled_from([4, 8, 12, "8"]),
    },
}
FIELD_NAMES = tuple(GenerationRequest.model_fields)
PROMPTS = st.one_of(st.sampled_from(["a red fox", "ok"]), st.text(), st.text(), INPUT_VALUES)


def params(provider: str) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword parameters: some the provider takes, then up to two spoiled or unknown ones."""
    return st.tuples(
        st.fixed_dictionaries({}, optional=dict(GOOD_FIELDS[provider])),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELD_NAMES), ODD_TEXT), INPUT_VALUES, max_size=2
        ),
    ).map(lambda parts: {**parts[0], **parts[1]})


PARAMS = {name: params(name) for name in GOOD_FIELDS}
BASES = {name: st.fixed_dictionaries({}, optional=dict(good)) for name, good in GOOD_FIELDS.items()}
