"""The OpenAI-compatible Videos protocol (API.md section 3): Bearer auth,
``{"error": {...}}`` errors, ``openai-poll-after-ms`` and ``x-ratelimit-*`` headers."""

from __future__ import annotations

import uuid
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
from ._multipart import FormPart, parse_form
from ._protocol import Context, ProtocolBase, reason
from ._validate import choice, text

_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")
_EXTEND_SECONDS = ("4", "8", "12", "16", "20")
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
    """``/videos``: create, retrieve, list, delete, content, remix, edit, extend, characters."""

    name = "openai"
    prefix = "/v1"
    host = "openai.sim"

    def __init__(self, context: Context) -> None:
        super().__init__(context)
        self._characters: dict[str, tuple[str, dict[str, Any]]] = {}  # id -> (key, character)

    def add_routes(self, router: Router) -> None:
        self.route(router, "POST", "/videos", "submit", self._create)
        self.route(router, "GET", "/videos", "list", self._list)
        # Before /videos/{video_id}...: first match wins, and these are literal paths.
        self.route(router, "POST", "/videos/edits", "edit", self._edit)
        self.route(router, "POST", "/videos/extensions", "extend", self._extend)
        self.route(router, "POST", "/videos/characters", "create_character", self._new_character)
        self.route(router, "GET", "/videos/characters/{character_id}", "character", self._character)
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
        fields, files = self._fields(call.request)
        _check_reference(fields, files)
        prompt = text(fields, "prompt", max_len=32000)
        assert prompt is not None  # required=True
        model = choice(fields, "model", tuple(_MODEL_SIZES), "sora-2")
        seconds = choice(fields, "seconds", ("4", "8", "12"), "4")
        size = choice(fields, "size", _SIZES, "720x1280")
        if size not in _MODEL_SIZES[model]:
            raise BadRequest(f"size {size} requires sora-2-pro", param="size", value=size)
        return self._start(call.key, prompt=prompt, model=model, seconds=seconds, size=size)

    def _fields(self, request: Request) -> tuple[dict[str, Any], dict[str, FormPart]]:
        """The fields of a JSON body or a multipart form, and the form's files.

        The official package sends an object in a form as bracketed names
        (``video[id]=...``): they are read back as ``{"video": {"id": ...}}``.
        """
        if not request.content_type.lower().startswith("multipart/"):
            return self.json_body(request), {}
        try:
            form = parse_form(request.content_type, request.body)
        except ValueError as exc:
            raise BadRequest("the multipart body could not be parsed") from exc
        fields: dict[str, Any] = {}
        for name, part in form.items():
            if part.filename is not None:
                continue
            outer, bracket, inner = name.partition("[")
            if bracket and inner.endswith("]") and "[" not in inner:
                nested = fields.setdefault(outer, {})
                if isinstance(nested, dict):
                    nested[inner[:-1]] = part.text
            else:
                fields[name] = part.text
        files = {name: part for name, part in form.items() if part.filename is not None}
        return fields, files

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
        _require_completed(self.engine.state(source).phase, "remixed", "video_id")
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

    def _edit(self, call: Call) -> Response:
        fields, files = self._fields(call.request)
        prompt = text(fields, "prompt", max_len=32000)
        assert prompt is not None  # required=True
        meta = self._source(call, fields, files, "edited")
        return self._start(
            call.key, prompt=prompt, model=meta["model"], seconds=meta["seconds"], size=meta["size"]
        )

    def _extend(self, call: Call) -> Response:
        fields, files = self._fields(call.request)
        prompt = text(fields, "prompt", max_len=32000)
        assert prompt is not None  # required=True
        if fields.get("seconds") is None:
            raise BadRequest("seconds is required", param="seconds")
        more = choice(fields, "seconds", _EXTEND_SECONDS, "4")
        meta = self._source(call, fields, files, "extended")
        # The new video is the whole, stitched clip.
        seconds = str(int(meta["seconds"]) + int(more))
        return self._start(
            call.key, prompt=prompt, model=meta["model"], seconds=seconds, size=meta["size"]
        )

    def _source(
        self, call: Call, fields: dict[str, Any], files: dict[str, FormPart], verb: str
    ) -> dict[str, Any]:
        """The video an edit or extension starts from: an uploaded file, or ``{"id"}`` of
        one of the key's completed videos. Returns its model, seconds and size."""
        upload = files.get("video")
        if upload is not None:
            if not _looks_like_video(upload.data):
                raise BadRequest("video must be an MP4, QuickTime or WebM file", param="video")
            return {"model": "sora-2", "seconds": "4", "size": _SIZES[0]}
        reference = fields.get("video")
        video_id = reference.get("id") if isinstance(reference, dict) else None
        if not isinstance(video_id, str) or not video_id:
            raise BadRequest("video must be a file or an object with an id", param="video")
        job = self.engine.get(video_id, call.key)
        if job is None:
            raise NotFound(f"Video with id '{video_id}' not found.", code="video_not_found")
        _require_completed(self.engine.state(job).phase, verb, "video")
        return job.meta

    def _new_character(self, call: Call) -> Response:
        fields, files = self._fields(call.request)
        name = text(fields, "name", max_len=256)
        upload = files.get("video")
        if upload is None:
            raise BadRequest("video is required", param="video")
        if not _looks_like_video(upload.data):
            raise BadRequest("video must be an MP4, QuickTime or WebM file", param="video")
        character_id = f"char_{uuid.uuid4().hex}"
        character = {
            "id": character_id,
            "object": "character",
            "created_at": int(self.engine.wall(self.engine.now())),
            "name": name,
        }
        self._characters[character_id] = (call.key, character)
        return Response.json(character)

    def _character(self, call: Call) -> Response:
        character_id = call.params["character_id"]
        key, character = self._characters.get(character_id, ("", {}))
        if key != call.key:
            message = f"Character with id '{character_id}' not found."
            raise NotFound(message, code="character_not_found")
        return Response.json(character)


def _require_completed(phase: str, verb: str, param: str) -> None:
    if phase != "completed":
        raise BadRequest(f"Only completed videos can be {verb}.", param=param)


def _check_reference(fields: dict[str, Any], files: dict[str, FormPart]) -> None:
    """``input_reference``: a non-empty file, or ``{"image_url"}`` / ``{"file_id"}``."""
    upload = files.get("input_reference")
    if upload is not None:
        if not upload.data:
            raise BadRequest("input_reference is empty", param="input_reference")
        return
    reference = fields.get("input_reference")
    if reference is None:
        return
    if not isinstance(reference, dict) or not any(
        isinstance(reference.get(name), str) and reference[name]
        for name in ("image_url", "file_id")
    ):
        raise BadRequest(
            "input_reference must be a file or an object with image_url", param="input_reference"
        )


def _looks_like_video(data: bytes) -> bool:
    return data[4:8] == b"ftyp" or data.startswith(b"\x1a\x45\xdf\xa3")
