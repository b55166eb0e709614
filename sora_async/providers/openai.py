"""The OpenAI-compatible ``/v1/videos`` protocol (``Authorization: Bearer``; API.md, section 3)."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any, ClassVar

import httpx

from .._errors import APIError, InsufficientCreditsError, InvalidRequestError
from .._models import Character, GenerationRequest, Job, JobStatus, Quota, Video
from ._wire import (
    Id,
    OptFloat,
    OptStr,
    Timestamp,
    Wire,
    as_wait,
    count,
    from_now,
    limit,
    loose,
    quota_or_none,
    text,
)
from .base import ContentVariant, ImageData, Provider, VideoFile, VideoPage, parse_duration

__all__ = ["OpenAIProvider"]

_STATUSES: Mapping[str, JobStatus] = {
    "queued": JobStatus.QUEUED,
    "in_progress": JobStatus.PROCESSING,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
}

#: The model names the official protocol lists: the two families and their dated snapshots.
MODELS = ("sora-2", "sora-2-pro", "sora-2-2025-10-06", "sora-2-pro-2025-10-06", "sora-2-2025-12-08")
_PRO_MODELS = ("sora-2-pro", "sora-2-pro-2025-10-06")
_SECONDS = (4, 8, 12)
#: How much longer an extension may make a video (the official package's documentation).
EXTEND_SECONDS = (4, 8, 12, 16, 20)
_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
# Each aspect ratio has a standard size (first) and sora-2-pro's larger one.
_SIZES_FOR_ASPECT: Mapping[str, tuple[str, ...]] = {
    "16:9": ("1280x720", "1792x1024"),
    "9:16": ("720x1280", "1024x1792"),
}
_ASPECT_FOR_SIZE = {size: aspect for aspect, sizes in _SIZES_FOR_ASPECT.items() for size in sizes}
_VIDEO_FIELDS = set(Video.model_fields)
_VARIANTS: tuple[ContentVariant, ...] = ("video", "thumbnail", "spritesheet")
_MAX_PROMPT = 32000
_MAX_PAGE = 100


class _ErrorDetail(Wire):
    # Read leniently: a relay's odd error object must not hide the rest of the answer.
    message: Any = None
    type: Any = None
    code: Any = None

    @property
    def reason(self) -> str | None:
        return text(self.message) or text(self.code)

    @property
    def provider_code(self) -> str | None:
        return text(self.code) or text(self.type)


class _ErrorBody(Wire):
    error: _ErrorDetail


class _Video(Wire):
    id: Id
    status: Id
    model: OptStr = None
    progress: OptFloat = None
    size: OptStr = None
    created_at: Timestamp = None
    completed_at: Timestamp = None
    error: _ErrorDetail | None = None
    prompt: OptStr = None


class _VideoList(Wire):
    data: list[_Video]
    last_id: OptStr = None
    # The official client reads null or absent as "not said" and goes on while there is a
    # last_id; only false ends the listing.
    has_more: bool | None = None


class _Character(Wire):
    id: Id
    name: OptStr = None
    created_at: Timestamp = None


class _Deleted(Wire):
    deleted: bool


class OpenAIProvider(Provider):
    """The OpenAI Videos protocol, as the official service and its relays speak it.

    A finished video is fetched from ``/videos/{id}/content`` with the key, so a completed
    job's ``video_url`` is that URL.

    >>> OpenAIProvider().status_request("video_1").url
    URL('https://api.openai.com/v1/videos/video_1')
    """

    name = "openai"
    default_base_url = "https://api.openai.com/v1"
    default_paths: ClassVar[Mapping[str, str]] = {
        "submit": "/videos",
        "status": "/videos/{video_id}",
        "list": "/videos",
        "delete": "/videos/{video_id}",
        "content": "/videos/{video_id}/content",
        "remix": "/videos/{video_id}/remix",
        "edit": "/videos/edits",
        "extend": "/videos/extensions",
        "create_character": "/videos/characters",
        "character": "/videos/characters/{character_id}",
    }
    image_transport = "file"
    can_list = True
    lists_prompts = True
    max_prompt_length: ClassVar[int] = _MAX_PROMPT

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    # -- requests -----------------------------------------------------------------------------

    def validate(self, request: GenerationRequest) -> None:
        self._create_fields(request)

    def _create_fields(self, request: GenerationRequest) -> dict[str, str]:
        """The create call's form fields (all strings: they also travel as multipart)."""
        self.reject_unsupported(
            request, {"image", "aspect_ratio", "model", "duration", "pro", "size", "seconds"}
        )
        self.require_prompt_length(request.prompt, self.max_prompt_length)
        fields = {"prompt": request.prompt, "model": self._model(request)}
        seconds = self._seconds(request)
        if seconds is not None:
            fields["seconds"] = str(seconds)
        size = self._size(request)
        if size is not None:
            fields["size"] = size
        return fields

    def _model(self, request: GenerationRequest) -> str:
        """The model to send: the one named (dated snapshots too), else sora-2 or, with
        ``pro=True``, sora-2-pro."""
        self.require_choice("model", request.model, MODELS)
        if request.model is None:
            return "sora-2-pro" if request.pro else "sora-2"
        if request.pro and request.model not in _PRO_MODELS:
            raise InvalidRequestError(
                f"{request.model!r} contradicts pro=True", field="model", allowed=_PRO_MODELS
            )
        return request.model

    def _seconds(self, request: GenerationRequest) -> int | None:
        # ``duration`` is the provider-neutral spelling of openai's ``seconds``.
        self.require_choice("duration", request.duration, _SECONDS)
        self.require_choice("seconds", request.seconds, _SECONDS)
        if None not in (request.duration, request.seconds) and request.duration != request.seconds:
            raise InvalidRequestError(
                f"{request.seconds} contradicts duration {request.duration}",
                field="seconds",
                allowed=(request.duration,),
            )
        return request.seconds or request.duration

    def _size(self, request: GenerationRequest) -> str | None:
        self.require_choice("aspect_ratio", request.aspect_ratio, tuple(_SIZES_FOR_ASPECT))
        self.require_choice("size", request.size, _SIZES)
        if request.aspect_ratio is None:
            return request.size
        matching = _SIZES_FOR_ASPECT[request.aspect_ratio]
        if request.size is not None and request.size not in matching:
            raise InvalidRequestError(
                f"{request.size!r} does not match aspect_ratio {request.aspect_ratio!r}",
                field="size",
                allowed=matching,
            )
        return request.size or matching[0]

    def submit_request(self, request: GenerationRequest, image: ImageData | None) -> httpx.Request:
        fields = self._create_fields(request)
        url = self.url("submit")
        if image is None:
            return httpx.Request("POST", url, json=fields)
        if image.data is not None:
            mime = image.mime_type or "application/octet-stream"
            files = {"input_reference": (image.filename, image.data, mime)}
            return httpx.Request("POST", url, data=fields, files=files)
        if image.url:
            return httpx.Request(
                "POST", url, json={**fields, "input_reference": {"image_url": image.url}}
            )
        raise InvalidRequestError("needs image bytes or a URL", field="image")

    def status_request(self, job_id: str) -> httpx.Request:
        return self.get_request("status", video_id=job_id)

    def list_request(self, *, cursor: str | None = None, limit: int | None = None) -> httpx.Request:
        """One page, newest first; ``cursor`` is the previous page's ``next_cursor``."""
        if limit is not None and (type(limit) is not int or not 1 <= limit <= _MAX_PAGE):
            raise InvalidRequestError(
                f"{limit!r} is not a whole number between 1 and {_MAX_PAGE}",
                field="limit",
                allowed=(1, _MAX_PAGE),
            )
        params: dict[str, str | int] = {"order": "desc"}
        if cursor:
            params["after"] = cursor
        if limit is not None:
            params["limit"] = limit
        return httpx.Request("GET", self.url("list"), params=params)

    def check_key_request(self) -> httpx.Request:
        # The protocol has no key check; the smallest list page is the cheapest call.
        return self.list_request(limit=1)

    def delete_request(self, job_id: str) -> httpx.Request:
        return httpx.Request("DELETE", self.url("delete", video_id=job_id))

    def remix_request(self, job_id: str, prompt: str) -> httpx.Request:
        self._require_prompt(prompt)
        return httpx.Request("POST", self.url("remix", video_id=job_id), json={"prompt": prompt})

    def edit_request(self, job_id: str, prompt: str) -> httpx.Request:
        """``POST /videos/edits``: a new video editing a finished one, named by its id
        (the protocol's JSON form: ``{"prompt", "video": {"id"}}``)."""
        self._require_prompt(prompt)
        body = {"prompt": prompt, "video": {"id": job_id}}
        return httpx.Request("POST", self.url("edit"), json=body)

    def extend_request(self, job_id: str, prompt: str, seconds: int) -> httpx.Request:
        """``POST /videos/extensions``: ``seconds`` more of a finished video."""
        self._require_prompt(prompt)
        self.require_choice("seconds", seconds, EXTEND_SECONDS)
        body = {"prompt": prompt, "seconds": str(seconds), "video": {"id": job_id}}
        return httpx.Request("POST", self.url("extend"), json=body)

    def create_character_request(self, name: str, video: VideoFile) -> httpx.Request:
        """``POST /videos/characters``: a named character from an uploaded video."""
        if not name.strip():
            raise InvalidRequestError("must not be empty or blank", field="name")
        files = {"video": (video.filename, video.data, video.mime_type)}
        return httpx.Request("POST", self.url("create_character"), data={"name": name}, files=files)

    def character_request(self, character_id: str) -> httpx.Request:
        return self.get_request("character", character_id=character_id)

    def _require_prompt(self, prompt: str) -> None:
        if not prompt.strip():
            raise InvalidRequestError("must not be empty or blank", field="prompt")
        self.require_prompt_length(prompt, self.max_prompt_length)

    def content_request(self, job: Job, variant: ContentVariant = "video") -> httpx.Request:
        """The file behind a video, fetched with the key from the provider's own host."""
        self.require_choice("variant", variant, _VARIANTS)
        return httpx.Request(
            "GET", self.url("content", video_id=job.id), params={"variant": variant}
        )

    # -- responses ----------------------------------------------------------------------------

    def parse_job(self, payload: Any) -> Job:
        return self._job(self.validate_wire(_Video, payload, "video"))

    def _job(self, wire: _Video) -> Job:
        status = self.map_status(wire.status, _STATUSES)
        return Job(
            id=wire.id,
            status=status,
            raw_status=wire.status,
            progress=wire.progress,
            video_url=self._video_url(wire.id, status),
            error=wire.error.reason if wire.error else None,
            model=wire.model,
            aspect_ratio=_ASPECT_FOR_SIZE.get(wire.size or ""),
            created_at=wire.created_at,
            completed_at=wire.completed_at,
        )

    def _video_url(self, video_id: str, status: JobStatus) -> str | None:
        return self.url("content", video_id=video_id) if status is JobStatus.COMPLETED else None

    def parse_list(self, payload: Any, *, only: Container[str] | None = None) -> VideoPage:
        payload = self.keep_listed(payload, "data", "id", only)
        wire = self.validate_wire(_VideoList, payload, "video list")
        # Each entry is a whole video object: its progress, end time and error too.
        videos = [
            Video.model_validate(
                {**self._job(video).model_dump(include=_VIDEO_FIELDS), "prompt": video.prompt}
            )
            for video in wire.data
        ]
        return VideoPage(videos=videos, next_cursor=_next_cursor(wire, videos))

    def parse_character(self, payload: Any) -> Character:
        wire = self.validate_wire(_Character, payload, "character")
        return Character(id=wire.id, name=wire.name, created_at=wire.created_at)

    def parse_delete(self, payload: Any) -> bool:
        """Whether the server says the video is gone."""
        return self.validate_wire(_Deleted, payload, "delete").deleted

    def error_from(self, response: httpx.Response, body: Any) -> APIError:
        wire = loose(_ErrorBody, body)
        detail = wire.error if wire else _ErrorDetail()
        code = detail.provider_code
        # A spent balance also answers 429, but waiting will not bring it back.
        no_money = response.status_code == 429 and code == "insufficient_quota"
        return self.status_error(
            response,
            body,
            text(detail.message),
            provider_code=code,
            kind=InsufficientCreditsError if no_money else None,
        )

    def poll_hint(self, response: httpx.Response) -> float | None:
        millis = as_wait(response.headers.get("openai-poll-after-ms"))
        if millis is not None:
            return millis / 1000
        return super().poll_hint(response)

    def quota_from(self, response: httpx.Response, payload: Any) -> Quota | None:
        headers = response.headers
        return quota_or_none(
            {
                "rate_limit": limit(headers.get("x-ratelimit-limit-requests")),
                "rate_remaining": count(headers.get("x-ratelimit-remaining-requests")),
                "rate_reset": from_now(parse_duration(headers.get("x-ratelimit-reset-requests"))),
            }
        )


def _next_cursor(wire: _VideoList, videos: list[Video]) -> str | None:
    """Where the next page starts, as the official client pages: ``has_more: false`` or an
    empty page ends the listing; otherwise the ``last_id`` (the last entry's id when a relay
    says ``has_more: true`` but leaves ``last_id`` out)."""
    if wire.has_more is False or not videos:
        return None
    if wire.has_more is None:
        return wire.last_id
    return wire.last_id or videos[-1].id
