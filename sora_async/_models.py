"""The models every provider normalizes into (pydantic v2)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

__all__ = [
    "BatchItem",
    "BatchResult",
    "BatchStatus",
    "Character",
    "GenerationRequest",
    "Job",
    "JobStatus",
    "Quota",
    "Video",
]


class JobStatus(StrEnum):
    """Where a job is. Every provider's own words map onto these four.

    >>> JobStatus("completed").is_terminal
    True
    """

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


class Quota(BaseModel):
    """What the provider last said about this key's limits; ``None`` where it never said.

    >>> Quota(daily_limit=20, daily_remaining=18).merged(Quota(daily_remaining=17)).daily_limit
    20
    """

    model_config = ConfigDict(frozen=True)

    daily_limit: int | None = None
    daily_remaining: int | None = None
    daily_reset: AwareDatetime | None = None
    credits: int | None = None
    rate_limit: int | None = None
    rate_remaining: int | None = None
    rate_reset: AwareDatetime | None = None
    concurrent_limit: int | None = None
    concurrent_active: int | None = None

    def merged(self, newer: Quota | None) -> Quota:
        """This view updated by the fields ``newer`` knows."""
        if newer is None:
            return self
        known = newer.model_dump(exclude_none=True)
        return self.model_copy(update=known) if known else self

    @property
    def is_empty(self) -> bool:
        # The field values, without a model_dump per answer (every answer asks this).
        return all(value is None for value in self.__dict__.values())


class Job(BaseModel):
    """One generation job as the provider last described it.

    ``raw_status`` keeps the provider's own word; an unknown one maps to ``PROCESSING``
    (not finished) rather than failing.

    Two fields name the model, and neither changes once known: ``model`` is the model the
    request asked for, as the provider spells it (codefast ``"sora-2-landscape"``, openai
    ``"sora-2"``); ``provider_model`` is the one the provider says runs the job, where it
    names its own (codefast's status answers: ``"sora_video2-landscape-hd"``), else ``None``.
    Timestamps are the provider's; ``None`` where it has not said (yet).

    >>> job = Job(id="j1", status="queued", raw_status="queued", model="sora-2-landscape")
    >>> job.updated(Job(id="j1", status="completed", raw_status="completed")).model
    'sora-2-landscape'
    """

    model_config = ConfigDict(frozen=True)

    id: str
    status: JobStatus
    raw_status: str
    queue_position: int | None = None
    queue_size: int | None = None
    progress: float | None = None
    video_url: str | None = None
    thumbnail_url: str | None = None
    error: str | None = None
    model: str | None = None
    provider_model: str | None = None
    aspect_ratio: str | None = None
    created_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    quota: Quota | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def updated(self, newer: Job) -> Job:
        """``newer`` with the fields it left out (codefast's short answers) kept from this one."""
        known = {k: v for k, v in newer if v is not None}
        if newer.is_terminal:
            # A finished job has no place in the queue, even if the answer left it out.
            known.setdefault("queue_position", None)
            known.setdefault("queue_size", None)
        return self.model_copy(update=known)


class Video(BaseModel):
    """A video listed by ``list_videos``; each field ``None`` where the list does not say.

    codefast lists finished videos with their URL and creation time; openai lists whole
    video objects, so its entries also have ``progress``, ``completed_at`` and ``error``.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    video_url: str | None = None
    created_at: AwareDatetime | None = None
    status: JobStatus | None = None
    progress: float | None = None
    completed_at: AwareDatetime | None = None
    error: str | None = None
    prompt: str | None = None  # openai lists say it: how a submit in doubt is found again


class Character(BaseModel):
    """A character made from a short video (openai), to appear in later videos.

    >>> Character(id="char_1", name="Mossy").name
    'Mossy'
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None = None
    created_at: AwareDatetime | None = None


ImageInput = str | Path | bytes

# A whole number as a CSV cell or a form field holds it ("10"), in ASCII digits only.
_DIGITS = re.compile(r"[0-9]{1,9}")
_FLAG_WORDS = {"true": True, "false": False}


def _shown(value: object) -> str:
    """``value`` for an error message: its repr, cut short (the input may be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _sendable(text: str) -> str:
    # A lone surrogate ("\ud800") is a valid Python string that UTF-8 cannot carry.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds a character UTF-8 cannot encode (a lone surrogate)") from None
    return text


def _text(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a string, not {type(value).__name__}")
    return _sendable(value)


def _prompt(value: Any) -> str:
    if value is None:
        raise ValueError("is required")
    text: str = _text(value)
    if not text.strip():
        raise ValueError("must not be empty or blank")
    return text


def _whole_number(value: Any) -> Any:
    # Strict: 10.0, True or fullwidth digits would each be a guess at what was meant.
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    raise ValueError(f"must be a whole number, not {_shown(value)}")


def _flag(value: Any) -> bool:
    # Strict: "no", 1 or None would each be a guess; "true"/"false" is how a CSV cell says it.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _FLAG_WORDS:
        return _FLAG_WORDS[value.strip().lower()]
    raise ValueError(f"must be True or False, not {_shown(value)}")


def _image(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bytearray | memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        if not value:
            raise ValueError("is empty")
        return value
    if isinstance(value, str | PurePath):
        text = str(value)
        if not text.strip() or text == ".":
            raise ValueError("must not be empty")
        if "\x00" in text:
            raise ValueError("must not hold a NUL character")
        return _sendable(value) if isinstance(value, str) else Path(value)
    raise ValueError(f"must be a file path, bytes or an http(s) URL, not {type(value).__name__}")


Text = Annotated[str | None, BeforeValidator(_text)]
WholeNumber = Annotated[int | None, BeforeValidator(_whole_number)]


class GenerationRequest(BaseModel):
    """What to generate. Each provider checks, before sending, what it can do.

    Values are taken as they are, not guessed at: ``pro`` is a bool (or the text ``"true"``
    or ``"false"``), ``duration`` and ``seconds`` whole numbers (or ASCII digits, as a CSV
    cell holds them). Anything else is refused when the request is built.

    >>> GenerationRequest(prompt="a red fox", aspect_ratio="9:16").aspect_ratio
    '9:16'
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    prompt: Annotated[str, BeforeValidator(_prompt)]
    image: Annotated[ImageInput | None, BeforeValidator(_image), Field(repr=False)] = None
    aspect_ratio: Text = None
    model: Text = None
    duration: WholeNumber = None
    quality: Text = None
    negative_prompt: Text = None
    pro: Annotated[bool, BeforeValidator(_flag)] = False
    size: Text = None
    seconds: WholeNumber = None

    def set_fields(self) -> set[str]:
        """The optional parameters that were given (not left at their default)."""
        defaults = {"pro": False}
        return {
            name
            for name, value in self
            if name != "prompt" and value is not None and defaults.get(name) != value
        }


BatchStatus = Literal["completed", "failed", "skipped", "error"]


class BatchItem(BaseModel):
    """The outcome of one prompt of a batch. A job id, once given, is always kept."""

    model_config = ConfigDict(frozen=True)

    index: int
    request: GenerationRequest
    status: BatchStatus
    job: Job | None = None
    video_url: str | None = None
    error: str | None = None
    reset_at: AwareDatetime | None = None

    @property
    def job_id(self) -> str | None:
        return self.job.id if self.job else None

    def to_record(self) -> dict[str, Any]:
        """A flat, JSON-ready record (the image bytes, if any, are left out)."""
        return {
            "index": self.index,
            "prompt": self.request.prompt,
            "status": self.status,
            "job_id": self.job_id,
            "video_url": self.video_url,
            "error": self.error,
            "reset_at": self.reset_at.isoformat() if self.reset_at else None,
        }


class BatchResult(BaseModel):
    """Every item of a batch, in prompt order.

    >>> BatchResult(items=[]).summary()
    '0 prompts: 0 completed, 0 failed, 0 skipped, 0 errors'
    """

    model_config = ConfigDict(frozen=True)

    items: Annotated[list[BatchItem], Field(default_factory=list)]

    @field_validator("items")
    @classmethod
    def _in_prompt_order(cls, items: list[BatchItem]) -> list[BatchItem]:
        return sorted(items, key=lambda item: item.index)

    def _with(self, status: BatchStatus) -> list[BatchItem]:
        return [item for item in self.items if item.status == status]

    @property
    def completed(self) -> list[BatchItem]:
        return self._with("completed")

    @property
    def failed(self) -> list[BatchItem]:
        return self._with("failed")

    @property
    def skipped(self) -> list[BatchItem]:
        return self._with("skipped")

    @property
    def errors(self) -> list[BatchItem]:
        return self._with("error")

    @property
    def urls(self) -> dict[int, str]:
        """Prompt index → video URL, for every completed item."""
        return {item.index: item.video_url for item in self.completed if item.video_url}

    def to_jsonl(self, path: str | Path) -> Path:
        """Write one JSON line per prompt; returns the path."""
        path = Path(path)
        path.write_text("".join(_jsonl(item.to_record() for item in self.items)), "utf-8")
        return path

    def summary(self) -> str:
        counts = {s: len(self._with(s)) for s in ("completed", "failed", "skipped", "error")}
        reset = [item.reset_at for item in self.skipped if item.reset_at]
        text = (
            f"{len(self.items)} prompts: {counts['completed']} completed, {counts['failed']} "
            f"failed, {counts['skipped']} skipped, {counts['error']} errors"
        )
        if reset:
            text += f" (daily quota resets {min(reset).isoformat()})"
        return text


def _jsonl(records: Iterable[dict[str, Any]]) -> Iterable[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"
