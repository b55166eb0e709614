"""Build a checked :class:`GenerationRequest` from what a caller passed to ``submit``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ._errors import InvalidRequestError
from ._models import GenerationRequest

__all__ = ["make_request"]


def make_request(prompt: str | GenerationRequest, params: Mapping[str, Any]) -> GenerationRequest:
    """A checked request: a prompt and keywords, or a request and keyword overrides.

    Overrides are checked exactly like keywords (``model_copy(update=...)`` would not check
    them), and so is a request built with ``model_construct``. Bad input is an
    :class:`InvalidRequestError` naming the field.

    >>> make_request(GenerationRequest(prompt="a fox"), {"duration": "10"}).duration
    10
    """
    if isinstance(prompt, GenerationRequest):
        fields = {**dict(prompt), **params}
    elif "prompt" in params:
        raise InvalidRequestError("was given twice (as the prompt and a keyword)", field="prompt")
    else:
        fields = {"prompt": prompt, **params}
    try:
        return GenerationRequest.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _invalid(exc: ValidationError) -> InvalidRequestError:
    first = exc.errors(include_url=False)[0]
    field = _printable(str(first["loc"][0])) if first["loc"] else "request"
    if first["type"] == "extra_forbidden":
        known = tuple(GenerationRequest.model_fields)
        return InvalidRequestError(
            f"is not a parameter; known: {', '.join(known)}", field=field, allowed=known
        )
    return InvalidRequestError(first["msg"].removeprefix("Value error, "), field=field)


def _printable(name: str) -> str:
    # An unknown keyword is the caller's own text: keep the message printable whatever it is.
    text = name.encode("utf-8", "backslashreplace").decode("utf-8")[:80]
    return text if text.strip() else repr(name)
