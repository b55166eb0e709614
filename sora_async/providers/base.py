"""The provider contract: a sans-I/O translator between our models and one wire protocol.

A provider builds ``httpx.Request`` objects and reads ``httpx.Response`` objects. It never
sends anything, sleeps or reads files: the client owns I/O, retries and timing. A new
provider is one subclass of :class:`Provider` and its tests.
"""

from __future__ import annotations

import email.utils
import functools
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from .._errors import (
    APIError,
    InvalidRequestError,
    ResponseParseError,
    error_for_status,
    excerpt,
)
from .._models import Character, GenerationRequest, Job, JobStatus, Quota, Video

__all__ = [
    "ImageData",
    "Provider",
    "ProviderLimits",
    "VideoFile",
    "VideoPage",
    "parse_duration",
    "parse_retry_after",
    "parse_timestamp",
    "readable",
    "same_origin",
]

WireModel = TypeVar("WireModel", bound=BaseModel)

ContentVariant = Literal["video", "thumbnail", "spritesheet"]


@dataclass(frozen=True)
class ProviderLimits:
    """Limits a provider publishes, used until its answers say otherwise."""

    rate_limit: int | None = None
    rate_window: float = 60.0
    concurrent_limit: int | None = None
    daily_limit: int | None = None


@dataclass(frozen=True)
class ImageData:
    """An image ready to send: bytes with their sniffed MIME type, or a URL."""

    data: bytes | None = field(default=None, repr=False)
    mime_type: str | None = None
    url: str | None = None
    filename: str = "image"

    def data_url(self) -> str:
        import base64

        if self.data is None:
            raise ValueError("no bytes to encode")
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class VideoFile:
    """A video ready to upload: its bytes, sniffed MIME type and a file name."""

    data: bytes = field(repr=False)
    mime_type: str
    filename: str


@dataclass(frozen=True)
class VideoPage:
    """One page of a video listing; ``next_cursor`` is ``None`` on the last page."""

    videos: list[Video]
    next_cursor: str | None = None


class Provider(ABC):
    """Translate between sora_async's models and one provider's HTTP protocol.

    Subclasses set the class attributes and implement the abstract methods. Operations a
    provider lacks raise :class:`InvalidRequestError` through :meth:`unsupported`, before
    anything is sent.

    >>> from sora_async.providers import CodefastProvider
    >>> CodefastProvider(paths={"status": "/jobs/{job_id}"}).status_request("j1").url.path
    '/jobs/j1'
    """

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    default_paths: ClassVar[Mapping[str, str]]
    limits: ClassVar[ProviderLimits] = ProviderLimits()
    max_image_bytes: ClassVar[int] = 20 * 1024 * 1024
    max_video_bytes: ClassVar[int] = 100 * 1024 * 1024
    #: How images travel: inline in the JSON ("inline"), as an https URL only ("url": the
    #: client uploads bytes first), or as a file or URL ("file").
    image_transport: ClassVar[Literal["inline", "url", "file"]] = "inline"
    #: Whether :meth:`list_request` exists and can settle tracked jobs in bulk.
    can_list: ClassVar[bool] = False
    #: Whether listed videos carry their prompt: submits in doubt are then told apart by it,
    #: so several may be on the wire at once (see ``sora_async._submits``).
    lists_prompts: ClassVar[bool] = False

    def __init__(self, *, base_url: str | None = None, paths: Mapping[str, str] | None = None):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        unknown = set(paths or {}) - set(self.default_paths)
        if unknown:
            raise InvalidRequestError(
                f"unknown path names {sorted(unknown)}",
                field="paths",
                allowed=tuple(self.default_paths),
            )
        self.paths = {**self.default_paths, **(paths or {})}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- building requests ----------------------------------------------------------------

    @abstractmethod
    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The headers that carry the key."""

    @abstractmethod
    def validate(self, request: GenerationRequest) -> None:
        """Raise :class:`InvalidRequestError` for anything this provider cannot do."""

    @abstractmethod
    def submit_request(self, request: GenerationRequest, image: ImageData | None) -> httpx.Request:
        """The submission. ``image`` is the prepared ``request.image``, if any."""

    @abstractmethod
    def status_request(self, job_id: str) -> httpx.Request:
        """One job's status."""

    @abstractmethod
    def check_key_request(self) -> httpx.Request:
        """A cheap authenticated call that tells whether the key works."""

    def list_request(self, *, cursor: str | None = None, limit: int | None = None) -> httpx.Request:
        """One page of the key's videos."""
        raise self.unsupported("list_videos")

    def quota_request(self) -> httpx.Request | None:
        """A call that answers with quota; ``None`` when quota only rides on other answers."""
        return None

    def upload_request(self, image: ImageData) -> httpx.Request:
        raise self.unsupported("upload_image")

    def delete_request(self, job_id: str) -> httpx.Request:
        raise self.unsupported("delete")

    def remix_request(self, job_id: str, prompt: str) -> httpx.Request:
        raise self.unsupported("remix")

    def edit_request(self, job_id: str, prompt: str) -> httpx.Request:
        """A new video that edits a finished one."""
        raise self.unsupported("edit")

    def extend_request(self, job_id: str, prompt: str, seconds: int) -> httpx.Request:
        """A new video that continues a finished one by ``seconds``."""
        raise self.unsupported("extend")

    def create_character_request(self, name: str, video: VideoFile) -> httpx.Request:
        raise self.unsupported("create_character")

    def character_request(self, character_id: str) -> httpx.Request:
        raise self.unsupported("get_character")

    def content_request(self, job: Job, variant: ContentVariant = "video") -> httpx.Request:
        """The download of a finished job's file (by default its ``video_url``, no auth)."""
        if variant != "video":
            raise self.unsupported(f"download variant {variant!r}")
        if not job.video_url:
            raise InvalidRequestError(f"job {job.id} has no video URL yet", field="job")
        try:
            return httpx.Request("GET", job.video_url)
        except (httpx.InvalidURL, UnicodeError) as exc:  # the server's URL, not ours
            raise InvalidRequestError(
                f"{_shown(job.video_url)} is not a URL that can be fetched: {exc}",
                field="video_url",
            ) from None

    def content_needs_auth(self, request: httpx.Request) -> bool:
        """Whether the key may travel with a download: only to this provider's own origin.

        The client asks again at every redirect hop, so the key never follows a download
        to another scheme, host or port.
        """
        return same_origin(request.url, httpx.URL(self.base_url))

    # -- reading responses ------------------------------------------------------------------

    def unwrap(self, response: httpx.Response) -> Any:
        """The decoded payload of a successful answer, or the typed error it carries.

        Whatever the server sent, this returns or raises an :class:`APIError` or a
        :class:`ResponseParseError`; so do the ``parse_*`` readers and :meth:`error_from`.
        """
        body = self.decode(response)
        if response.is_error:
            raise self.error_from(response, body)
        return body

    @abstractmethod
    def error_from(self, response: httpx.Response, body: Any) -> APIError:
        """The typed error for a failed answer (``body`` is None when it was not JSON)."""

    @abstractmethod
    def parse_job(self, payload: Any) -> Job:
        """A submit or status answer as a :class:`Job`."""

    def parse_list(self, payload: Any, *, only: Container[str] | None = None) -> VideoPage:
        """One page of videos; with ``only``, just the videos whose ids are in it."""
        raise self.unsupported("list_videos")

    def parse_quota(self, payload: Any) -> Quota:
        raise self.unsupported("get_quota")

    def parse_upload(self, payload: Any) -> str:
        raise self.unsupported("upload_image")

    def parse_character(self, payload: Any) -> Character:
        raise self.unsupported("characters")

    def parse_check_key(self, payload: Any) -> bool:
        return True

    def quota_from(self, response: httpx.Response, payload: Any) -> Quota | None:
        """Quota carried by any answer (headers or body fields), or ``None``.

        Never raises: quota is a bonus, so a malformed or absurd field (a negative limit, a
        number past 2**53) is left out rather than failing the call it rode on.
        """
        return None

    def poll_hint(self, response: httpx.Response) -> float | None:
        """Seconds (finite, not negative) the server asks us to wait before polling again."""
        return parse_retry_after(response.headers.get("retry-after"))

    # -- helpers for subclasses --------------------------------------------------------------

    def url(self, name: str, **params: str) -> str:
        """The absolute URL of a named path, its ``{placeholders}`` percent-quoted."""
        try:
            quoted = {key: _quote_segment(value) for key, value in params.items()}
        except UnicodeEncodeError:
            raise InvalidRequestError(
                "holds a character UTF-8 cannot encode (a lone surrogate)", field="job_id"
            ) from None
        return self.base_url + self.paths[name].format(**quoted)

    def get_request(self, name: str, **params: str) -> httpx.Request:
        """A GET of a named path (see :meth:`url`).

        Polls send the same few URLs over and over: each is parsed once (:func:`_parsed`),
        which was a tenth of a status poll's CPU in the SDK.
        """
        return httpx.Request("GET", _parsed(self.url(name, **params)))

    def unsupported(self, operation: str) -> InvalidRequestError:
        return InvalidRequestError(f"the {self.name} provider does not support {operation}")

    def reject_unsupported(self, request: GenerationRequest, supported: set[str]) -> None:
        """Refuse parameters this provider has no way to send."""
        extra = sorted(request.set_fields() - supported)
        if extra:
            raise InvalidRequestError(
                f"the {self.name} provider does not support it",
                field=extra[0],
                allowed=tuple(sorted(supported)),
            )

    @staticmethod
    def require_choice(name: str, value: object, allowed: tuple[object, ...]) -> None:
        if value is not None and value not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise InvalidRequestError(
                f"{value!r} is not one of {shown}", field=name, allowed=allowed
            )

    def require_prompt_length(self, prompt: str, limit: int) -> None:
        if len(prompt) > limit:
            raise InvalidRequestError(
                f"is {len(prompt)} characters; {self.name} accepts at most {limit}", field="prompt"
            )

    def decode(self, response: httpx.Response) -> Any:
        """The JSON body, ``None`` for an error answer that is not readable JSON.

        A successful answer that is not readable JSON is a :class:`ResponseParseError`:
        not JSON, not UTF-8, ``NaN`` or a number too large for a float, an integer of more
        than 4,300 digits, or nesting deeper than :data:`MAX_JSON_DEPTH`.
        """
        if not response.content:
            return None
        try:
            return _loads(response.content)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
            if response.is_error:
                return None  # the status says what happened; the body only adds detail
            raise ResponseParseError(
                f"{self.name}: expected JSON from {response.request.url.path}, got "
                f"{response.headers.get('content-type', 'no content type')} "
                f"({_shown(_reason(exc))}): {excerpt(response.text)!r}",
                status_code=response.status_code,
                body=excerpt(response.text),
            ) from None

    def validate_wire(self, model: type[WireModel], payload: Any, what: str) -> WireModel:
        """``payload`` read as ``model``; a wrong shape is a :class:`ResponseParseError`."""
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(
                _shown(f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}")
                for err in exc.errors(include_url=False)[:3]
            )
            raise ResponseParseError(
                f"{self.name}: unexpected {what} answer ({problems})", body=payload
            ) from exc

    def status_error(
        self,
        response: httpx.Response,
        body: Any,
        message: str | None,
        *,
        provider_code: int | str | None = None,
        kind: type[APIError] | None = None,
        retry_after: float | None = None,
    ) -> APIError:
        """The error for ``response``, with a readable message even for an HTML page."""
        if not message:
            message = excerpt(response.text) if response.text else response.reason_phrase or "error"
        message = readable(message)
        if retry_after is None:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        return error_for_status(
            response.status_code,
            message,
            provider_code=provider_code,
            body=body if body is not None else excerpt(response.text),
            retry_after=retry_after,
            kind=kind,
        )

    @staticmethod
    def keep_listed(payload: Any, items: str, key: str, only: Container[str] | None) -> Any:
        """A list answer with only the entries whose ``key`` is in ``only``.

        A sweep follows a few jobs in a list of thousands (codefast lists every finished
        video): reading only those keeps a sweep's cost to the jobs it tracks.
        """
        if only is None or not isinstance(payload, dict):
            return payload
        entries = payload.get(items)
        if not isinstance(entries, list):
            return payload
        # An id that is not a string is not tracked (and may be unhashable: a list).
        kept = [e for e in entries if not isinstance(e, dict) or _listed(e.get(key), only)]
        return {**payload, items: kept}

    @staticmethod
    def map_status(raw: str, table: Mapping[str, JobStatus]) -> JobStatus:
        # An unknown word means "not finished": keep polling rather than crash.
        return table.get(raw.lower(), JobStatus.PROCESSING)


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """Whether two URLs share scheme, host and port (a default port counts as given).

    >>> same_origin(httpx.URL("https://a.example/x"), httpx.URL("https://a.example:443/y"))
    True
    >>> same_origin(httpx.URL("https://a.example"), httpx.URL("http://a.example"))
    False
    """
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    # httpx.URL is immutable, so one parse may serve every request to the same URL.
    return httpx.URL(url)


def _quote_segment(value: str) -> str:
    return quote(value, safe="")


def _listed(value: object, only: Container[str]) -> bool:
    return isinstance(value, str) and value in only


#: No protocol nests its answers more than a few levels; far deeper is an attack (each
#: level costs stack in every reader: pydantic, repr, json.dumps of an error's body).
MAX_JSON_DEPTH = 64


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:20]} is too large for a float")
    return number


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: One decoder for every answer: json.loads with these hooks would make a new one each time.
_DECODER = json.JSONDecoder(parse_float=_finite_float, parse_constant=_no_constant)
_CONTAINERS = (dict, list)


def _loads(content: bytes) -> Any:
    """JSON as the standard reads it: no NaN or Infinity, no float overflow, bounded depth."""
    # What json.loads does with bytes: UTF-8, -16 or -32, told from the first bytes.
    value = _DECODER.decode(content.decode(json.detect_encoding(content), "surrogatepass"))
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    # Iterative, so that checking a deep value cannot itself exhaust the stack.
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        stack += [(child, depth + 1) for child in item if isinstance(child, _CONTAINERS)]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deep"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    return str(exc)


def _shown(value: object, limit: int = 200) -> str:
    """``value`` for a message: text as is, anything else as its repr; cut to ``limit``."""
    text = value if isinstance(value, str) else repr(value)
    return readable(text if len(text) <= limit else text[: limit - 3] + "...")


def readable(text: str) -> str:
    """``text`` with any lone surrogate replaced, so that it can be encoded, printed, stored.

    JSON may carry ``"\\ud800"``; a Python string may hold it; UTF-8 cannot.

    >>> readable("ok \\ud800")
    'ok ?'
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


_DAY_FIRST = re.compile(r"^(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})$")


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware datetime from any of the providers' formats; ``None`` for "no value".

    Accepts codefast's day-first ``DD.MM.YYYY HH:MM:SS`` (UTC), ISO-8601 and unix seconds.

    >>> parse_timestamp("20.09.2025 03:07:58").isoformat()
    '2025-09-20T03:07:58+00:00'
    >>> parse_timestamp("") is None
    True
    """
    if value is None or value == "":
        return None
    try:
        return _timestamp(value)
    except (ValueError, TypeError, OverflowError, OSError):
        # OverflowError and OSError: unix seconds past what the platform's time_t holds.
        raise ValueError(f"not a timestamp: {_shown(value, 60)}") from None


def _timestamp(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(type(value).__name__)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return _text_timestamp(value)


@functools.lru_cache(maxsize=1024)
def _text_timestamp(value: str) -> datetime:
    # A job's answers repeat its timestamps on every poll: each text is read once.
    text = value.strip()
    if day_first := _DAY_FIRST.match(text):
        # By hand: strptime costs more than the rest of a status answer's parsing.
        day, month, year, hour, minute, second = map(int, day_first.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` value (seconds, possibly fractional, or an HTTP date).

    >>> parse_retry_after("2.5")
    2.5
    """
    if not value:
        return None
    try:
        return _seconds(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError, OverflowError, IndexError):  # not a date, or not one
        return None


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_duration(value: str | None) -> float | None:
    """Seconds from an openai-style duration such as ``"6m0s"``, ``"1.5s"`` or ``"20ms"``.

    >>> parse_duration("6m0s")
    360.0
    """
    if not value:
        return None
    text = value.strip()
    try:
        return _seconds(float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return _seconds(sum(float(number) * scale[unit] for number, unit in parts))


def _seconds(number: float) -> float | None:
    """A server's number of seconds, or ``None`` when it is negative, NaN or infinite."""
    return number if math.isfinite(number) and number >= 0 else None
