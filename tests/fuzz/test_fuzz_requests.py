"""Any value of any parameter ends in InvalidRequestError or in a request that can be sent.

Each example goes through what ``submit`` does before sending: ``make_request`` (a prompt
and keywords, or a GenerationRequest and keyword overrides), ``provider.validate``, the
image check, then building the HTTP request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fuzz_strategies import BASES, PARAMS, PROMPTS
from hypothesis import event, given
from hypothesis import strategies as st

from sora_async import GenerationRequest, InvalidRequestError
from sora_async._images import check_image_url, sniff_image_type
from sora_async._requests import make_request
from sora_async.providers import ImageData, Provider, get_provider

PROVIDERS = ("codefast", "soravideo", "openai")
_TYPES: dict[str, tuple[type, ...]] = {
    "prompt": (str,),
    "image": (str, Path, bytes, type(None)),
    "pro": (bool,),
    "duration": (int, type(None)),
    "seconds": (int, type(None)),
}


def check_request(request: GenerationRequest) -> None:
    """A request every later step can rely on: the declared types, exactly."""
    for name, value in request:
        allowed = _TYPES.get(name, (str, type(None)))
        assert isinstance(value, allowed), (name, value)
        if isinstance(value, str):
            value.encode("utf-8")
        if name in ("duration", "seconds") and value is not None:
            assert type(value) is int
    assert request.prompt.strip()


def image_for(provider: Provider, request: GenerationRequest) -> ImageData | None:
    """The prepared image, without touching the file system (paths are left out)."""
    image = request.image
    if image is None:
        return None
    if isinstance(image, bytes):
        mime = sniff_image_type(image)
        if mime is None:
            return None
        return ImageData(data=image, mime_type=mime)
    if isinstance(image, str) and "://" in image[:16]:
        return ImageData(url=check_image_url(image))
    return None


def try_submit(provider: Provider, prompt: Any, params: dict[str, Any]) -> None:
    refused: InvalidRequestError | None = None
    try:
        request = make_request(prompt, params)
        check_request(request)
        provider.validate(request)
        image = image_for(provider, request)
        if image is not None and image.data is not None and provider.image_transport == "url":
            provider.upload_request(image)
        else:
            provider.submit_request(request, image).read()
    except InvalidRequestError as error:
        refused = error
    if refused is not None:
        assert refused.field, refused
        str(refused).encode("utf-8")
    event("refused" if refused else "built")  # --hypothesis-show-statistics


@pytest.mark.parametrize("name", PROVIDERS)
@given(data=st.data(), prompt=PROMPTS)
def test_prompt_and_keywords(name: str, data: st.DataObject, prompt: Any) -> None:
    try_submit(get_provider(name), prompt, data.draw(PARAMS[name], label="params"))


@pytest.mark.parametrize("name", PROVIDERS)
@given(data=st.data())
def test_request_and_overrides(name: str, data: st.DataObject) -> None:
    try:
        request = make_request("a fox", data.draw(BASES[name], label="request"))
    except InvalidRequestError:
        return
    try_submit(get_provider(name), request, data.draw(PARAMS[name], label="overrides"))
