"""The soravideo "Sora 2 Video API" protocol (API.md section 2): Bearer auth, the
``{"code", "msg", "data"}`` envelope on every answer, quota headers on every answer."""

from __future__ import annotations

import re
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from ._asgi import Call, Request, Response, Router
from ._engine import Job
from ._errors import (
    BadRequest,
    EnvelopeFault,
    Limit,
    Limited,
    MethodNotAllowed,
    NotFound,
    ServerFault,
    SimError,
    Unauthorized,
)
from ._formats import iso_time, unix_header
from ._multipart import parse_form
from ._protocol import ProtocolBase, reason
from ._validate import choice, text

_SIZES = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (1024, 1024)}
_MAX_UPLOAD = 20 * 1024 * 1024
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_TYPE_SUFFIX = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
}

_UNAUTHORIZED = {
    "missing": (1003, "Missing Authorization header"),
    "malformed": (1004, "Malformed Authorization token"),
    "invalid": (1001, "Invalid API key"),
}
_LIMITS = {
    Limit.RATE: (429, 2001, "Rate limit exceeded"),
    Limit.CONCURRENT: (429, 2002, "Concurrent task limit reached"),
    Limit.DAILY: (429, 2003, "Daily request limit reached, resets at midnight UTC"),
    Limit.CREDITS: (402, 3001, "Insufficient credits"),
}
_PHASE = {"queued": "pending", "processing": "processing", "completed": "completed"}


def _ok(data: Any) -> Response:
    return Response.json({"code": 200, "msg": "success", "data": data})


def _error(status: int, code: int, msg: str, **extra: Any) -> Response:
    return Response.json({"code": code, "msg": msg, "data": None, **extra}, status)


class SoraVideo(ProtocolBase):
    """text/image to video (sora2 and sora2-pro), tasks, upload, credits."""

    name = "soravideo"
    prefix = "/api/v1"
    host = "soravideo.sim"

    def add_routes(self, router: Router) -> None:
        for model in ("sora2", "sora2-pro"):
            pro = model == "sora2-pro"
            for kind in ("text", "image"):
                handler = partial(self._generate, pro=pro, image=kind == "image")
                self.route(router, "POST", f"/{model}/{kind}-to-video", "submit", handler)
        self.route(router, "GET", "/tasks/{task_id}", "status", self._task)
        self.route(router, "POST", "/upload", "upload", self._upload)
        self.route(router, "GET", "/credits", "credits", self._credits)

    def identify(self, request: Request) -> str:
        return self.bearer(request)

    def render(self, error: SimError) -> Response:
        if isinstance(error, Unauthorized):
            code, msg = _UNAUTHORIZED[error.reason]
            return _error(401, code, msg)
        if isinstance(error, BadRequest):
            return _error(400, 400, error.message)
        if isinstance(error, NotFound):
            return _error(404, 404, error.message)
        if isinstance(error, MethodNotAllowed):
            return _error(405, 405, "Method not allowed")
        if isinstance(error, Limited):
            status, code, msg = _LIMITS[error.limit]
            if error.limit is Limit.RATE:
                wait = error.retry_after if error.retry_after is not None else 1.0
                return _error(status, code, msg, retryAfter=self.wait_value(wait))
            if error.limit is Limit.DAILY:
                # Midnight UTC at real speed; a scaled "day" ends earlier, so say when.
                msg = f"{msg} (next reset {iso_time(self.engine.daily_reset_at())})"
            return _error(status, code, msg)
        if isinstance(error, ServerFault):
            response = _error(error.status, error.status, reason(error.status))
            response.headers.extend(self.retry_after(error.retry_after))
            return response
        if isinstance(error, EnvelopeFault):
            # The envelope's code wins over the HTTP status: that is the point of this fault.
            return _error(200, error.code, error.message)
        return _error(500, 500, "Internal server error")

    def response_headers(self, key: str | None) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        rate = self.engine.rate_state(key)
        if rate is not None:
            integral = self.engine.integral_times
            headers += [
                ("X-RateLimit-Limit", str(rate.limit)),
                ("X-RateLimit-Remaining", str(rate.remaining)),
                ("X-RateLimit-Reset", unix_header(rate.reset_at, integral=integral)),
            ]
        limit = self.settings.concurrent_limit
        if limit is not None:
            headers.append(("X-Concurrent-Limit", str(limit)))
        active = self.engine.active(key) if key is not None else 0
        headers.append(("X-Concurrent-Active", str(active)))
        return headers

    # -- routes ---------------------------------------------------------------------------

    def _generate(self, call: Call, *, pro: bool, image: bool) -> Response:
        body = self.json_body(call.request)
        image_url = self._image_url(call.request, body) if image else None
        prompt = text(body, "prompt", max_len=2000)
        assert prompt is not None  # required=True
        negative = text(body, "negativePrompt", required=False, max_len=2000)
        aspect = choice(body, "aspectRatio", ("16:9", "9:16", "1:1"), "16:9")
        duration = choice(body, "duration", (10, 15) if pro else (5, 10, 15), 10)
        # quality is a pro parameter; plain sora2 only makes standard quality.
        quality = choice(
            body, "quality", ("standard", "high") if pro else ("standard",), "standard"
        )
        width, height = _SIZES[aspect]
        job = self.engine.submit(
            call.key,
            prompt=prompt,
            cost=200 if pro else 100,
            seconds=float(duration),
            width=width,
            height=height,
            meta={
                "model": "sora2-pro" if pro else "sora2",
                "negative_prompt": negative,
                "aspect_ratio": aspect,
                "quality": quality,
                "image_url": image_url,
            },
        )
        response = _ok({"task_id": job.id, "status": "pending"})
        response.job_id = job.id
        return response

    def _image_url(self, request: Request, body: dict[str, Any]) -> str:
        url = text(body, "imageUrl")
        assert url is not None  # required=True
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.netloc:
            return url
        # The simulator's own upload URLs are plain http: accept those that exist.
        own = f"{request.origin}/files/uploads/"
        if url.startswith(own) and self.context.uploads.get(url[len(own) :]) is not None:
            return url
        raise BadRequest("imageUrl must be an https URL", param="imageUrl", value=url)

    def _task(self, call: Call) -> Response:
        job = self.engine.get(call.params["task_id"], call.key)
        if job is None:
            raise NotFound("Task not found")
        return _ok(self._task_body(call.request, job))

    def _task_body(self, request: Request, job: Job) -> dict[str, Any]:
        state = self.engine.state(job)
        data: dict[str, Any] = {
            "task_id": job.id,
            "status": _PHASE.get(state.phase, state.phase),
            "progress": state.progress,
            "created_at": iso_time(self.engine.wall(job.submitted)),
        }
        if state.phase == "completed":
            data["video_url"] = self.video_url(request, job)
            data["thumbnail_url"] = self.thumbnail_url(request, job)
        if state.phase in ("completed", "failed"):
            data["completed_at"] = iso_time(self.engine.wall(job.finish))
        if state.phase == "failed":
            data["error"] = job.error
        return data

    def _upload(self, call: Call) -> Response:
        try:
            form = parse_form(call.request.content_type, call.request.body)
        except ValueError as exc:
            raise BadRequest("expected a multipart/form-data body", param="file") from exc
        part = form.get("file")
        if part is None or not part.data:
            raise BadRequest("file is required", param="file")
        if len(part.data) > _MAX_UPLOAD:
            raise BadRequest("file is too large (20 MB at most)", param="file")
        match = _SUFFIX.search(part.filename or "")
        suffix = match.group(0).lower() if match else _TYPE_SUFFIX.get(part.content_type, "")
        name = self.context.uploads.add(part.data, part.content_type, suffix)
        return _ok({"url": self.file_url(call.request, f"uploads/{name}")})

    def _credits(self, call: Call) -> Response:
        return _ok({"credits": self.engine.credits(call.key)})
