"""Field checks shared by the protocols; each raises :class:`BadRequest` naming the field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from ._errors import BadRequest

T = TypeVar("T", str, int)


def text(
    body: Mapping[str, Any],
    name: str,
    *,
    required: bool = True,
    max_len: int | None = None,
) -> str | None:
    """A string field: present and non-empty when ``required``, at most ``max_len`` long."""
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required", param=name)
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", param=name, value=value)
    if required and not value.strip():
        raise BadRequest(f"{name} must not be empty", param=name, value=value)
    if max_len is not None and len(value) > max_len:
        raise BadRequest(f"{name} must be at most {max_len} characters", param=name)
    return value


def choice(body: Mapping[str, Any], name: str, allowed: Sequence[T], default: T) -> T:
    """A field that must be one of ``allowed``, of the same JSON type; ``default`` if absent."""
    value = body.get(name)
    if value is None:
        return default
    kind = type(default)
    # bool is an int in Python but not in JSON: true is never a duration.
    if isinstance(value, bool) or not isinstance(value, kind) or value not in allowed:
        options = ", ".join(repr(option) for option in allowed)
        raise BadRequest(f"{name} must be one of {options}", param=name, value=value)
    return value


def json_object(raw: Any) -> dict[str, Any]:
    """A parsed JSON body that must be an object."""
    if not isinstance(raw, dict):
        raise BadRequest("the request body must be a JSON object")
    return raw
