"""Sans-I/O translators between sora_async's models and each provider's wire protocol."""

from __future__ import annotations

import copy

from .._errors import InvalidRequestError
from .base import ImageData, Provider, ProviderLimits, VideoPage
from .codefast import CodefastProvider
from .openai import OpenAIProvider
from .soravideo import SoravideoProvider

__all__ = [
    "CodefastProvider",
    "ImageData",
    "OpenAIProvider",
    "Provider",
    "ProviderLimits",
    "SoravideoProvider",
    "VideoPage",
    "get_provider",
]

_PROVIDERS: dict[str, type[Provider]] = {
    cls.name: cls for cls in (CodefastProvider, OpenAIProvider, SoravideoProvider)
}


def get_provider(name_or_instance: str | Provider, *, base_url: str | None = None) -> Provider:
    """The provider called ``name``, or the instance given (a copy when ``base_url`` moves it).

    >>> get_provider("soravideo", base_url="http://127.0.0.1:8000/api/v1").base_url
    'http://127.0.0.1:8000/api/v1'
    """
    if isinstance(name_or_instance, Provider):
        if base_url is None:
            return name_or_instance
        # A copy, so that an instance shared by several clients keeps its own base URL.
        moved = copy.copy(name_or_instance)
        moved.base_url = base_url.rstrip("/")
        return moved
    cls = _PROVIDERS.get(str(name_or_instance).strip().lower())
    if cls is None:
        known = tuple(sorted(_PROVIDERS))
        raise InvalidRequestError(
            f"unknown provider {name_or_instance!r}; known: {', '.join(known)}",
            field="provider",
            allowed=known,
        )
    return cls(base_url=base_url)
