"""The codefast "Video Generator API" (``X-API-Key``; see API.md, section 1)."""

from __future__ import annotations

import functools
from collections.abc import Container, Mapping
from typing import Any, ClassVar

import httpx

from .._errors import APIError, DailyLimitError, InvalidRequestError
from .._models import GenerationRequest, Job, JobStatus, Quota, Video
from ._wire import (
    Id,
    OptCount,
    OptStr,
    Timestamp,
    Wire,
    count,
    limit,
    quota_or_none,
    rate_limit_headers,
)
from .base import ImageData, Provider, ProviderLimits, VideoPage

__all__ = ["CodefastProvider"]

_STATUSES: Mapping[str, JobStatus] = {
    "queued": JobStatus.QUEUED,
    "processing": JobStatus.PROCESSING,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,  # assumed: the document never shows a failure
}

# The model names come in one pair per aspect ratio ("sora-2-portrait" is assumed).
_MODEL_FOR_ASPECT: Mapping[str, str] = {"16:9": "sora-2-landscape", "9:16": "sora-2-portrait"}
_ASPECT_FOR_MODEL: Mapping[str, str] = {m: a for a, m in _MODEL_FOR_ASPECT.items()}
_IMAGE_SCHEMES = ("https://", "http://", "data:")


class _Quota(Wire):
    # Only get_quota holds these to a type; on other answers they are read leniently.
    daily_limit: OptCount = None
    daily_limit_remaining: OptCount = None


class _Job(Wire):
    # Status answers for finished jobs may be short: everything but id and status is optional.
    job_id: Id
    status: Id
    queue_position: OptCount = None
    total_in_queue: OptCount = None
    aspect_ratio: OptStr = None
    model: OptStr = None
    video_url: OptStr = None
    error: OptStr = None
    created_at: Timestamp = None
    started_at: Timestamp = None
    completed_at: Timestamp = None


class _Video(Wire):
    job_id: Id
    video_url: OptStr = None
    created_at: Timestamp = None


class _VideoList(Wire):
    videos: list[_Video]


class _KeyCheck(Wire):
    status: OptStr = None


class CodefastProvider(Provider):
    """codefast's protocol: 20 videos a day, quota fields on every answer, a list endpoint.

    >>> CodefastProvider().submit_request(GenerationRequest(prompt="a fox"), None).url.path
    '/generate'
    """

    name = "codefast"
    default_base_url = "https://sora-api.codefast.app"
    # "status" and "list" are assumed paths (the document lost them): users can override them.
    default_paths: ClassVar[Mapping[str, str]] = {
        "check_key": "/",
        "submit": "/generate",
        "status": "/status/{job_id}",
        "list": "/videos",
    }
    limits = ProviderLimits(daily_limit=20)
    image_transport = "inline"
    can_list = True
    #: Assumed: the document states no prompt limit; this keeps absurd prompts from
    #: spending a daily slot on a server-side refusal.
    max_prompt_length: ClassVar[int] = 4000

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-API-Key": api_key}

    # -- requests -----------------------------------------------------------------------------

    def validate(self, request: GenerationRequest) -> None:
        self._aspect_and_model(request)

    def _aspect_and_model(self, request: GenerationRequest) -> tuple[str, str]:
        """The checked (aspect_ratio, model) pair to send: either one implies the other."""
        self.reject_unsupported(request, {"image", "aspect_ratio", "model"})
        self.require_prompt_length(request.prompt, self.max_prompt_length)
        self.require_choice("aspect_ratio", request.aspect_ratio, tuple(_MODEL_FOR_ASPECT))
        self.require_choice("model", request.model, tuple(_ASPECT_FOR_MODEL))
        aspect = request.aspect_ratio or _ASPECT_FOR_MODEL.get(request.model or "", "16:9")
        model = _MODEL_FOR_ASPECT[aspect]
        if request.model is not None and request.model != model:
            raise InvalidRequestError(
                f"{request.model!r} does not match aspect_ratio {aspect!r}; use {model!r}",
                field="model",
                allowed=(model,),
            )
        return aspect, model

    def submit_request(self, request: GenerationRequest, image: ImageData | None) -> httpx.Request:
        aspect, model = self._aspect_and_model(request)
        body: dict[str, Any]
        if image is None:
            body = {"prompt": request.prompt}
        else:
            # Image-to-video speaks the OpenAI chat form: the prompt becomes the text part.
            content = [
                {"type": "image_url", "image_url": {"url": self._image_url(image)}},
                {"type": "text", "text": request.prompt},
            ]
            body = {"messages": [{"role": "user", "content": content}]}
        body |= {"aspect_ratio": aspect, "model": model}
        return httpx.Request("POST", self.url("submit"), json=body)

    def _image_url(self, image: ImageData) -> str:
        if image.data is not None:
            return image.data_url()
        if image.url and image.url.startswith(_IMAGE_SCHEMES):
            return image.url
        raise InvalidRequestError(
            f"needs image bytes or an http(s) URL, got {image.url!r}", field="image"
        )

    def status_request(self, job_id: str) -> httpx.Request:
        return self.get_request("status", job_id=job_id)

    def list_request(self, *, cursor: str | None = None, limit: int | None = None) -> httpx.Request:
        """All finished videos of the key: codefast has no paging, so both are ignored."""
        return self.get_request("list")

    def quota_request(self) -> httpx.Request:
        # No quota endpoint, but the list answer carries the daily fields.
        return self.list_request()

    def check_key_request(self) -> httpx.Request:
        return self.get_request("check_key")

    # -- responses ----------------------------------------------------------------------------

    def parse_job(self, payload: Any) -> Job:
        wire = self.validate_wire(_Job, payload, "job")
        # The submit answer echoes the requested model; status answers name the one that
        # runs the job instead ("sora_video2-landscape-hd"), so the requested one is read
        # back from the aspect ratio there.
        requested = wire.model in _ASPECT_FOR_MODEL
        return Job(
            id=wire.job_id,
            status=self.map_status(wire.status, _STATUSES),
            raw_status=wire.status,
            queue_position=wire.queue_position,
            queue_size=wire.total_in_queue,
            video_url=wire.video_url,
            error=wire.error,
            model=wire.model if requested else _MODEL_FOR_ASPECT.get(wire.aspect_ratio or ""),
            provider_model=None if requested else wire.model,
            aspect_ratio=wire.aspect_ratio,
            created_at=wire.created_at,
            started_at=wire.started_at,
            completed_at=wire.completed_at,
            quota=_quota(payload),
        )

    def parse_list(self, payload: Any, *, only: Container[str] | None = None) -> VideoPage:
        payload = self.keep_listed(payload, "videos", "job_id", only)
        wire = self.validate_wire(_VideoList, payload, "video list")
        # Only finished videos are listed (assumed), so each one is complete.
        videos = [
            Video(
                id=v.job_id,
                video_url=v.video_url,
                created_at=v.created_at,
                status=JobStatus.COMPLETED,
            )
            for v in wire.videos
        ]
        return VideoPage(videos=videos)

    def parse_quota(self, payload: Any) -> Quota:
        self.validate_wire(_Quota, payload, "quota")
        return _quota(payload) or Quota()

    def parse_check_key(self, payload: Any) -> bool:
        return self.validate_wire(_KeyCheck, payload, "key check").status == "running"

    def error_from(self, response: httpx.Response, body: Any) -> APIError:
        message = _detail_text(body)
        daily = response.status_code == 429 and _is_daily_limit(message)
        return self.status_error(response, body, message, kind=DailyLimitError if daily else None)

    def quota_from(self, response: httpx.Response, payload: Any) -> Quota | None:
        spent = response.status_code == 429 and _is_daily_limit(_detail_text(payload))
        # The service documents none, but a gateway in front of it may send the usual
        # rate-limit headers: they are the truth where they come.
        headers = quota_or_none(rate_limit_headers(response.headers))
        daily = _quota(payload, spent=spent)
        if headers is None:
            return daily
        return daily.merged(headers) if daily is not None else headers


def _quota(payload: Any, *, spent: bool = False) -> Quota | None:
    """The daily fields any answer carries, read field by field and leniently."""
    fields = payload if isinstance(payload, dict) else {}
    remaining = 0 if spent else count(fields.get("daily_limit_remaining"))
    return _daily_quota(limit(fields.get("daily_limit")), remaining)


@functools.lru_cache(maxsize=256)
def _daily_quota(daily_limit: int | None, remaining: int | None) -> Quota | None:
    # Every answer carries the pair, and it seldom changes: one (frozen) Quota serves
    # them all, and the client's "same as last time?" check is then an identity check.
    return quota_or_none({"daily_limit": daily_limit, "daily_remaining": remaining})


def _detail_text(body: Any) -> str | None:
    """FastAPI's ``detail`` as one readable line: a string, or a 422 list of field problems."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if detail is None or detail == "":
        return None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        return "; ".join(_problem_text(item) for item in detail)
    return str(detail)


def _problem_text(item: object) -> str:
    # One entry of a 422 list: {"loc": ["body", "prompt"], "msg": "field required", ...}.
    if not isinstance(item, dict):
        return str(item)
    loc = item.get("loc")
    where = ".".join(str(p) for p in loc) if isinstance(loc, list | tuple) else None
    msg = str(item.get("msg") or item.get("type") or item)
    return f"{where}: {msg}" if where else msg


def _is_daily_limit(message: str | None) -> bool:
    return message is not None and "daily limit" in message.lower()
