"""The codefast "Video Generator API" protocol (API.md section 1): ``X-API-Key`` auth,
FastAPI-style ``{"detail": ...}`` errors, ``DD.MM.YYYY HH:MM:SS`` timestamps."""

from __future__ import annotations

import base64
import binascii
from typing import Any

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
from ._formats import codefast_time
from ._protocol import ProtocolBase, reason
from ._validate import choice, text

# Submitted model -> (its aspect ratio, the model name the status answers with).
_MODELS = {
    "sora-2-landscape": ("16:9", "sora_video2-landscape-hd"),
    "sora-2-portrait": ("9:16", "sora_video2-portrait-hd"),
}
_MODEL_FOR = {"16:9": "sora-2-landscape", "9:16": "sora-2-portrait"}
_SIZES = {"16:9": (1280, 720), "9:16": (720, 1280)}
_SECONDS = 10.0

_LIMIT_DETAIL = {
    Limit.RATE: (429, "Too many requests"),
    Limit.DAILY: (429, "Daily limit reached"),
    Limit.CONCURRENT: (429, "Too many concurrent jobs"),
    Limit.CREDITS: (402, "Insufficient credits"),
}


class Codefast(ProtocolBase):
    """``GET /``, ``POST /generate``, ``GET /status/{job_id}``, ``GET /videos``."""

    name = "codefast"
    prefix = ""
    host = "codefast.sim"

    def add_routes(self, router: Router) -> None:
        self.route(router, "GET", "/", "check_key", self._check_key)
        self.route(router, "POST", "/generate", "submit", self._generate)
        self.route(router, "GET", "/status/{job_id}", "status", self._status)
        self.route(router, "GET", "/videos", "list", self._list)

    def identify(self, request: Request) -> str:
        return self.accept(request.header("x-api-key"))

    def render(self, error: SimError) -> Response:
        if isinstance(error, Unauthorized):
            detail = "Missing API key" if error.reason == "missing" else "Invalid API key"
            return Response.json({"detail": detail}, 401)
        if isinstance(error, BadRequest):
            # FastAPI reports validation errors as a list under "detail".
            loc = ["body", error.param] if error.param else ["body"]
            item = {"type": "value_error", "loc": loc, "msg": error.message, "input": error.value}
            return Response.json({"detail": [item]}, 422)
        if isinstance(error, NotFound):
            return Response.json({"detail": error.message}, 404)
        if isinstance(error, MethodNotAllowed):
            return Response.json({"detail": "Method Not Allowed"}, 405)
        if isinstance(error, Limited):
            status, detail = _LIMIT_DETAIL[error.limit]
            return Response.json(
                {"detail": detail}, status, headers=self.retry_after(error.retry_after)
            )
        if isinstance(error, ServerFault):
            headers = self.retry_after(error.retry_after)
            return Response.json({"detail": reason(error.status)}, error.status, headers=headers)
        if isinstance(error, EnvelopeFault):  # pragma: no cover - soravideo only
            return Response.json({"detail": error.message}, 500)
        return Response.json({"detail": "Internal Server Error"}, 500)

    # -- routes ---------------------------------------------------------------------------

    def _check_key(self, call: Call) -> Response:
        return Response.json({"message": "Video Generator API", "status": "running"})

    def _generate(self, call: Call) -> Response:
        body = self.json_body(call.request)
        prompt, has_image = _prompt(body)
        aspect, model = _aspect_and_model(body)
        width, height = _SIZES[aspect]
        job = self.engine.submit(
            call.key,
            prompt=prompt,
            cost=100,
            seconds=_SECONDS,
            width=width,
            height=height,
            meta={"aspect_ratio": aspect, "model": model, "image": has_image},
        )
        # The job as it was accepted (always queued: the pickup delay), not as it is after
        # however long this answer took on a busy machine.
        state = self.engine.state(job, job.submitted)
        answer = {
            "job_id": job.id,
            "status": state.phase,
            "queue_position": state.queue_position,
            "total_in_queue": state.queue_size,
            "aspect_ratio": aspect,
            "model": model,
            **self._quota(call.key),
        }
        response = Response.json(answer)
        response.job_id = job.id
        return response

    def _status(self, call: Call) -> Response:
        job = self.engine.get(call.params["job_id"], call.key)
        if job is None:
            raise NotFound("Job not found")
        return Response.json(self._status_body(call.request, job, call.key))

    def _status_body(self, request: Request, job: Job, key: str) -> dict[str, Any]:
        state = self.engine.state(job)
        aspect = job.meta["aspect_ratio"]
        model = _MODELS[job.meta["model"]][1]
        finished = self.engine.wall(job.finish) if state.phase in ("completed", "failed") else None
        if state.phase == "completed":
            # The document's completed answer is the short form: no queue or quota fields.
            return {
                "job_id": job.id,
                "status": "completed",
                "aspect_ratio": aspect,
                "model": model,
                "video_url": self.video_url(request, job),
                "completed_at": codefast_time(finished),
            }
        started = self.engine.wall(job.start) if state.phase != "queued" else None
        return {
            "job_id": job.id,
            "status": state.phase,
            "queue_position": state.queue_position,
            "total_in_queue": state.queue_size,
            "aspect_ratio": aspect,
            "model": model,
            "video_url": "",
            "error": job.error if state.phase == "failed" else "",
            "created_at": codefast_time(self.engine.wall(job.submitted)),
            "started_at": codefast_time(started),
            "completed_at": codefast_time(finished),
            **self._quota(key),
        }

    def _list(self, call: Call) -> Response:
        videos = [
            {
                "job_id": job.id,
                "video_url": self.video_url(call.request, job),
                "created_at": codefast_time(self.engine.wall(job.submitted)),
            }
            for job in self.engine.finished_videos(call.key)
        ]
        return Response.json({"count": len(videos), "videos": videos, **self._quota(call.key)})

    def _quota(self, key: str) -> dict[str, int | None]:
        limit, remaining = self.engine.daily(key)
        return {"daily_limit": limit, "daily_limit_remaining": remaining}


def _prompt(body: dict[str, Any]) -> tuple[str, bool]:
    """The prompt text, and whether an image came with it (the chat-message form)."""
    messages = body.get("messages")
    if messages is None:
        prompt = text(body, "prompt")
        assert prompt is not None  # required=True
        return prompt, False
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list", param="messages", value=messages)
    texts: list[str] = []
    images = 0
    for message in messages:
        if not isinstance(message, dict) or message.get("role", "user") != "user":
            continue
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list):
            raise BadRequest("message content must be a string or a list", param="messages")
        for part in parts:
            if not isinstance(part, dict):
                raise BadRequest("each content part must be an object", param="messages")
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif part.get("type") == "image_url":
                _check_image(part.get("image_url"))
                images += 1
    prompt = " ".join(chunk.strip() for chunk in texts if chunk.strip())
    if not prompt:
        fallback = body.get("prompt")
        if not isinstance(fallback, str) or not fallback.strip():
            raise BadRequest("messages must contain a text part", param="messages")
        prompt = fallback
    return prompt, images > 0


def _check_image(image: Any) -> None:
    """An ``image_url`` part must hold a base64 data URL or an http(s) URL."""
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str):
        raise BadRequest("image_url.url is required", param="messages")
    if url.startswith(("https://", "http://")):
        return
    head, sep, data = url.partition(",")
    if not (sep and head.startswith("data:image/") and head.endswith(";base64")):
        raise BadRequest("image_url.url must be a data:image/...;base64 URL", param="messages")
    try:
        base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise BadRequest("image_url.url holds invalid base64", param="messages") from exc


def _aspect_and_model(body: dict[str, Any]) -> tuple[str, str]:
    """The aspect ratio and model; either implies the other, and they must agree."""
    aspect = body.get("aspect_ratio")
    model = body.get("model")
    if aspect is not None:
        aspect = choice(body, "aspect_ratio", ("16:9", "9:16"), "16:9")
    if model is not None:
        model = choice(body, "model", tuple(_MODELS), "sora-2-landscape")
    if aspect is None:
        aspect = _MODELS[model][0] if model is not None else "16:9"
    if model is None:
        model = _MODEL_FOR[aspect]
    if _MODELS[model][0] != aspect:
        raise BadRequest(f"model {model} does not produce {aspect} videos", param="model")
    return aspect, model
