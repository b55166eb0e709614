"""The soravideo.art "Sora 2 Video API" (``Authorization: Bearer``; see API.md, section 2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from .._errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConcurrencyLimitError,
    DailyLimitError,
    InsufficientCreditsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from .._models import GenerationRequest, Job, JobStatus, Quota
from ._wire import (
    Id,
    OptFloat,
    OptStr,
    Timestamp,
    Wire,
    WireInt,
    as_wait,
    count,
    is_pro,
    limit,
    loose,
    next_midnight_utc,
    quota_or_none,
    rate_limit_headers,
    text,
)
from .base import ImageData, Provider, ProviderLimits

__all__ = ["SoravideoProvider"]

_OK = 200
_DAILY_LIMIT = 2003

_STATUSES: Mapping[str, JobStatus] = {
    "pending": JobStatus.QUEUED,
    "processing": JobStatus.PROCESSING,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
}

# The envelope's code decides the error class, whatever the HTTP status says. Codes that
# look like HTTP statuses mean what those statuses mean.
_ERRORS: Mapping[int, type[APIError]] = {
    1001: AuthenticationError,  # invalid key
    1002: AuthenticationError,  # revoked key
    1003: AuthenticationError,  # missing Authorization
    1004: AuthenticationError,  # malformed token
    2001: RateLimitError,
    2002: ConcurrencyLimitError,
    _DAILY_LIMIT: DailyLimitError,
    3001: InsufficientCreditsError,
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,  # the upstream model's own limit
    500: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
}

_ASPECT_RATIOS = ("16:9", "9:16", "1:1")
_QUALITIES = ("standard", "high")


class _Envelope(Wire):
    # Only ``code`` is held to a type: the rest of an error envelope is read leniently so
    # that a surprising ``msg`` never hides the code.
    code: WireInt
    msg: Any = None
    error: Any = None
    data: Any = None
    retryAfter: Any = None  # the wire's spelling

    @property
    def message(self) -> str | None:
        # The seed's examples prefer ``error`` and fall back to ``msg``.
        return text(self.error) or text(self.msg)

    @property
    def retry_after(self) -> float | None:
        hint = self.retryAfter
        if hint is None and isinstance(self.data, dict):
            hint = self.data.get("retryAfter")
        return as_wait(hint)


class _Task(Wire):
    task_id: Id
    # The submit answer carries only the task id: a task just created is pending.
    status: Id = "pending"
    progress: OptFloat = None
    video_url: OptStr = None
    thumbnail_url: OptStr = None
    error: OptStr = None  # assumed: the document names no failure reason field
    created_at: Timestamp = None
    completed_at: Timestamp = None


class _Upload(Wire):
    url: Id


class _Credits(Wire):
    credits: WireInt


class SoravideoProvider(Provider):
    """soravideo.art's protocol: an envelope on every answer, limits in every header.

    Images travel as https URLs only, so the client uploads bytes first (``upload_request``).

    >>> SoravideoProvider().submit_request(GenerationRequest(prompt="a fox", pro=True), None).url
    URL('https://soravideo.art/api/v1/sora2-pro/text-to-video')
    """

    name = "soravideo"
    default_base_url = "https://soravideo.art/api/v1"
    default_paths: ClassVar[Mapping[str, str]] = {
        "text_to_video": "/sora2/text-to-video",
        "pro_text_to_video": "/sora2-pro/text-to-video",
        "image_to_video": "/sora2/image-to-video",
        "pro_image_to_video": "/sora2-pro/image-to-video",
        "status": "/tasks/{task_id}",
        "upload": "/upload",  # assumed field name "file" in the multipart body
        "credits": "/credits",  # assumed answer field "credits"
    }
    limits = ProviderLimits(rate_limit=20, rate_window=60.0, concurrent_limit=3)
    image_transport = "url"
    can_list = False
    max_prompt_length: ClassVar[int] = 2000

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    # -- requests -----------------------------------------------------------------------------

    def validate(self, request: GenerationRequest) -> None:
        self._checked_pro(request)

    def _checked_pro(self, request: GenerationRequest) -> bool:
        """Whether the request goes to the pro endpoints, once every parameter is checked."""
        self.reject_unsupported(
            request,
            {"image", "aspect_ratio", "model", "duration", "quality", "negative_prompt", "pro"},
        )
        self.require_prompt_length(request.prompt, self.max_prompt_length)
        pro = is_pro(request)
        self.require_choice("aspect_ratio", request.aspect_ratio, _ASPECT_RATIOS)
        self.require_choice("duration", request.duration, (10, 15) if pro else (5, 10, 15))
        self.require_choice("quality", request.quality, _QUALITIES)
        if request.quality is not None and not pro:
            raise InvalidRequestError(
                "only sora-2-pro takes a quality: set pro=True or model='sora-2-pro'",
                field="quality",
            )
        # A plain-http URL would be refused by the server; say so before uploading anything.
        if isinstance(request.image, str) and request.image.startswith("http://"):
            self._image_url(ImageData(url=request.image))
        return pro

    def submit_request(self, request: GenerationRequest, image: ImageData | None) -> httpx.Request:
        endpoint = "text_to_video" if image is None else "image_to_video"
        if self._checked_pro(request):
            endpoint = f"pro_{endpoint}"
        body = {
            "prompt": request.prompt,
            "negativePrompt": request.negative_prompt,
            "aspectRatio": request.aspect_ratio,
            "duration": request.duration,
            "quality": request.quality,
            "imageUrl": None if image is None else self._image_url(image),
        }
        return httpx.Request(
            "POST",
            self.url(endpoint),
            json={key: value for key, value in body.items() if value is not None},
        )

    def status_request(self, job_id: str) -> httpx.Request:
        return self.get_request("status", task_id=job_id)

    def _image_url(self, image: ImageData) -> str:
        # https, or a URL on this provider's own host: what its /upload handed back.
        if image.url and (image.url.startswith("https://") or self._own_host(image.url)):
            return image.url
        shown = repr(image.url) if image.url else "image bytes (upload them first)"
        raise InvalidRequestError(f"soravideo needs an https URL, got {shown}", field="image")

    def _own_host(self, url: str) -> bool:
        try:
            return httpx.URL(url).host == httpx.URL(self.base_url).host
        except (httpx.InvalidURL, UnicodeError):  # IDNAError is a UnicodeError
            return False

    def upload_request(self, image: ImageData) -> httpx.Request:
        if image.data is None:
            raise InvalidRequestError("there are no image bytes to upload", field="image")
        mime = image.mime_type or "application/octet-stream"
        return httpx.Request(
            "POST", self.url("upload"), files={"file": (image.filename, image.data, mime)}
        )

    def quota_request(self) -> httpx.Request:
        return self.get_request("credits")

    def check_key_request(self) -> httpx.Request:
        # No key-check endpoint: the credits call is the cheapest authenticated one.
        return self.quota_request()

    # -- responses ----------------------------------------------------------------------------

    def unwrap(self, response: httpx.Response) -> Any:
        """The envelope's ``data``. The envelope's ``code`` wins over the HTTP status."""
        body = self.decode(response)
        if response.is_error and loose(_Envelope, body) is None:
            raise self.error_from(response, body)  # an HTML 502 page, say
        envelope = self.validate_wire(_Envelope, body, "envelope")
        if envelope.code != _OK:
            raise self.error_from(response, body)
        return envelope.data

    def error_from(self, response: httpx.Response, body: Any) -> APIError:
        envelope = loose(_Envelope, body)
        if envelope is None:
            return self.status_error(response, body, None)
        error = self.status_error(
            response,
            body,
            envelope.message,
            provider_code=envelope.code,
            kind=_ERRORS.get(envelope.code),
            retry_after=envelope.retry_after,
        )
        if isinstance(error, DailyLimitError):
            error.reset_at = next_midnight_utc()
        return error

    def parse_job(self, payload: Any) -> Job:
        wire = self.validate_wire(_Task, payload, "task")
        return Job(
            id=wire.task_id,
            status=self.map_status(wire.status, _STATUSES),
            raw_status=wire.status,
            progress=wire.progress,
            video_url=wire.video_url,
            thumbnail_url=wire.thumbnail_url,
            error=wire.error,
            created_at=wire.created_at,
            completed_at=wire.completed_at,
        )

    def parse_upload(self, payload: Any) -> str:
        return self.validate_wire(_Upload, payload, "upload").url

    def parse_quota(self, payload: Any) -> Quota:
        return Quota(credits=self.validate_wire(_Credits, payload, "credits").credits)

    def quota_from(self, response: httpx.Response, payload: Any) -> Quota | None:
        headers = response.headers
        fields: dict[str, Any] = rate_limit_headers(headers) | {
            "concurrent_limit": limit(headers.get("x-concurrent-limit")),
            "concurrent_active": count(headers.get("x-concurrent-active")),
        }
        envelope = loose(_Envelope, payload)
        if envelope is not None and envelope.code == _DAILY_LIMIT:
            fields |= {"daily_remaining": 0, "daily_reset": next_midnight_utc()}
        return quota_or_none(fields)
