"""The OpenAI-compatible Videos protocol (API.md section 3): Bearer auth,
``{"error": {...}}`` errors, ``openai-poll-after-ms`` and ``x-ratelimit-*`` headers."""

from __future__ import annotations

from typing import Any

from ._asgi import Call, Request, Response, Router
from ._engine import Job, JobState
from ._errors import (
    BadRequest,
    Limit,
    Limited,
    MethodNotAllowed,
    NotFound,
    ServerFault,
    SimError,
    Unauthorized,
)
from ._formats import go_duration
from ._media import mp4, png
from ._multipart import parse_form
from ._protocol import ProtocolBase, reason
from ._validate import choice, text

_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
# The two model families and their dated snapshots (API.md section 3); pro makes larger sizes.
_PRO_MODELS = ("sora-2-pro", "sora-2-pro-2025-10-06")
_MODELS = ("sora-2", "sora-2-2025-10-06", "sora-2-2025-12-08", *_PRO_MODELS)
_MODEL_SIZES = {model: _SIZES if model in _PRO_MODELS else _SIZES[:2] for model in _MODELS}
_PHASE = {"queued": "queued", "processing": "in_progress"}
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_LIMITS = {
    Limit.RATE: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    Limit.CONCURRENT: (
        "Too many video jobs in progress.",
        "requests",
        "concurrent_limit_exceeded",
    ),
    Limit.DAILY: (
        "You exceeded your daily video quota.",
        "insufficient_quota",
        "insufficient_quota",
    ),
    Limit.CREDITS: ("You exceeded your current quota.", "insufficient_quota", "insufficient_quota"),
}


def _error(
    status: int, message: str, kind: str, *, param: str | None = None, code: str | None = None
) -> Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return Response.json(body, status)


class OpenAIVideos(ProtocolBase):
    """``/videos``: create, retrieve, list, delete, content, remix."""

    name = "openai"
    prefix = "/v1"
    host = "openai.sim"

    def add_routes(self, router: Router) -> None:
        self.route(router, "POST", "/videos", "submit", self._create)
        self.route(router, "GET", "/videos", "list", self._list)
        self.route(router, "GET", "/videos/{video_id}", "status", self._retrieve)
        self.route(router, "DELETE", "/videos/{video_id}", "delete", self._delete)
        self.route(router, "GET", "/videos/{video_id}/content", "content", self._content)
        self.route(router, "POST", "/videos/{video_id}/remix", "remix", self._remix)

    def identify(self, request: Request) -> str:
        return self.bearer(request)

    def render(self, error: SimError) -> Response:
        if isinstance(error, Unauthorized):
            if error.reason == "invalid":
                msg = "Incorrect API key provided."
                return _error(401, msg, "invalid_request_error", code="invalid_api_key")
            return _error(401, _NO_KEY, "invalid_request_error")
        if isinstance(error, BadRequest):
            return _error(400, error.message, "invalid_request_error", param=error.param)
        if isinstance(error, NotFound):
            return _error(404, error.message, "invalid_request_error", code=error.code)
        if isinstance(error, MethodNotAllowed):
            return _error(405, "Method not allowed.", "invalid_request_error")
        if isinstance(error, Limited):
            message, kind, code = _LIMITS[error.limit]
            response = _error(429, message, kind, code=code)
            response.headers.extend(self.retry_after(error.retry_after))
            return response
        if isinstance(error, ServerFault):
            response = _error(error.status, reason(error.status), "server_error")
            response.headers.extend(self.retry_after(error.retry_after))
            return response
        return _error(500, "The server had an error processing your request.", "server_error")

    def response_headers(self, key: str | None) -> list[tuple[str, str]]:
        rate = self.engine.rate_state(key)
        if rate is None:
            return []
        return [
            ("x-ratelimit-limit-requests", str(rate.limit)),
            ("x-ratelimit-remaining-requests", str(rate.remaining)),
            ("x-ratelimit-reset-requests", go_duration(rate.reset_in)),
        ]

    # -- routes ---------------------------------------------------------------------------

    def _create(self, call: Call) -> Response:
        fields = self._create_fields(call.request)
        prompt = text(fields, "prompt", max_len=32000)
        assert prompt is not None  # required=True
        model = choice(fields, "model", tuple(_MODEL_SIZES), "sora-2")
        seconds = choice(fields, "seconds", ("4", "8", "12"), "4")
        size = choice(fields, "size", _SIZES, "720x1280")
        if size not in _MODEL_SIZES[model]:
            raise BadRequest(f"size {size} requires sora-2-pro", param="size", value=size)
        return self._start(call.key, prompt=prompt, model=model, seconds=seconds, size=size)

    def _create_fields(self, request: Request) -> dict[str, Any]:
        """The create parameters from a JSON body or a multipart form."""
        if request.content_type.lower().startswith("multipart/"):
            try:
                form = parse_form(request.content_type, request.body)
            except ValueError as exc:
                raise BadRequest("the multipart body could not be parsed") from exc
            fields: dict[str, Any] = {
                name: part.text for name, part in form.items() if part.filename is None
            }
            reference = form.get("input_reference")
            if reference is not None and reference.filename is not None and not reference.data:
                raise BadRequest("input_reference is empty", param="input_reference")
            return fields
        body = self.json_body(request)
        reference = body.get("input_reference")
        if reference is not None and not (
            isinstance(reference, dict) and isinstance(reference.get("image_url"), str)
        ):
            raise BadRequest(
                "input_reference must be a file or an object with image_url",
                param="input_reference",
            )
        return body

    def _start(
        self,
        key: str,
        *,
        prompt: str,
        model: str,
        seconds: str,
        size: str,
        remixed_from: str | None = None,
    ) -> Response:
        width, height = (int(side) for side in size.split("x"))
        job = self.engine.submit(
            key,
            prompt=prompt,
            cost=200 if model in _PRO_MODELS else 100,
            seconds=float(seconds),
            width=width,
            height=height,
            meta={"model": model, "seconds": seconds, "size": size, "remixed_from": remixed_from},
        )
        # The job as it was accepted (always queued: the pickup delay), not as it is after
        # however long this answer took on a busy machine.
        state = self.engine.state(job, job.submitted)
        response = Response.json(self._video(job, state), headers=self._poll_after(job, state))
        response.job_id = job.id
        return response

    def _video(self, job: Job, state: JobState) -> dict[str, Any]:
        done = state.phase in ("completed", "failed")
        error = {"code": "video_generation_failed", "message": job.error} if job.failed else None
        return {
            "id": job.id,
            "object": "video",
            "model": job.meta["model"],
            "status": _PHASE.get(state.phase, state.phase),
            "progress": state.progress,
            "created_at": int(self.engine.wall(job.submitted)),
            "completed_at": int(self.engine.wall(job.finish)) if done else None,
            "expires_at": None,
            "size": job.meta["size"],
            "seconds": job.meta["seconds"],
            "prompt": job.prompt,
            "remixed_from_video_id": job.meta["remixed_from"],
            "error": error if state.phase == "failed" else None,
        }

    def _poll_after(self, job: Job, state: JobState) -> list[tuple[str, str]]:
        """``openai-poll-after-ms``: when the next change is due, 1 to 10 sim seconds away."""
        if state.phase not in ("queued", "processing"):
            return []
        due = job.start if state.phase == "queued" else job.finish
        wait = (due - self.engine.now()) / self.settings.time_scale
        wait = min(max(wait, 1.0), 10.0)
        millis = max(1, round(self.engine.scaled(wait) * 1000))
        return [("openai-poll-after-ms", str(millis))]

    def _owned(self, call: Call) -> Job:
        video_id = call.params["video_id"]
        job = self.engine.get(video_id, call.key)
        if job is None:
            raise NotFound(f"Video with id '{video_id}' not found.", code="video_not_found")
        return job

    def _retrieve(self, call: Call) -> Response:
        job = self._owned(call)
        state = self.engine.state(job)
        return Response.json(self._video(job, state), headers=self._poll_after(job, state))

    def _list(self, call: Call) -> Response:
        query = call.request.query
        limit_text = query.get("limit", "20")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            raise BadRequest("limit must be an integer from 1 to 100", param="limit")
        limit = int(limit_text)
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise BadRequest("order must be 'asc' or 'desc'", param="order")
        jobs = self.engine.jobs_of(call.key)
        if order == "desc":
            jobs.reverse()
        start = 0
        after = query.get("after")
        if after:
            ids = [job.id for job in jobs]
            if after not in ids:
                raise BadRequest(f"No video found with id '{after}'.", param="after")
            start = ids.index(after) + 1
        page = jobs[start : start + limit]
        now = self.engine.now()
        return Response.json(
            {
                "object": "list",
                "data": [self._video(job, self.engine.state(job, now)) for job in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": start + limit < len(jobs),
            }
        )

    def _delete(self, call: Call) -> Response:
        job = self._owned(call)
        self.engine.delete(job)
        return Response.json({"id": job.id, "object": "video.deleted", "deleted": True})

    def _content(self, call: Call) -> Response:
        job = self._owned(call)
        variant = call.request.query.get("variant", "video")
        if variant not in ("video", "thumbnail", "spritesheet"):
            raise BadRequest(
                "variant must be 'video', 'thumbnail' or 'spritesheet'", param="variant"
            )
        phase = self.engine.state(job).phase
        if phase != "completed":
            message = (
                "Video generation failed; there is no content."
                if phase == "failed"
                else "Video is not ready yet; its content is available once it has completed."
            )
            raise NotFound(message, code="video_not_ready")
        if variant == "video":
            data = mp4(seconds=job.seconds, width=job.width, height=job.height)
            return Response(200, data, "video/mp4")
        return Response(200, png(), "image/png")

    def _remix(self, call: Call) -> Response:
        source = self._owned(call)
        if self.engine.state(source).phase != "completed":
            raise BadRequest("Only completed videos can be remixed.", param="video_id")
        body = self.json_body(call.request)
        prompt = text(body, "prompt", max_len=32000)
        assert prompt is not None  # required=True
        meta = source.meta
        return self._start(
            call.key,
            prompt=prompt,
            model=meta["model"],
            seconds=meta["seconds"],
            size=meta["size"],
            remixed_from=source.id,
        )
