"""Every bad input is a typed InvalidRequestError naming the field, and nothing is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from core_support import simulated

from sora_async import AsyncSoraClient, InvalidRequestError

pytestmark = pytest.mark.anyio

GIF = b"GIF89a" + b"\x00" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

BAD_INPUTS: list[tuple[str, str, dict[str, Any], str]] = [
    ("codefast", "   ", {}, "prompt"),
    ("codefast", "", {}, "prompt"),
    ("soravideo", "x" * 2001, {}, "prompt"),
    ("openai", "x" * 32001, {}, "prompt"),
    ("codefast", "ok", {"aspect_ratio": "4:3"}, "aspect_ratio"),
    ("soravideo", "ok", {"aspect_ratio": "21:9"}, "aspect_ratio"),
    ("soravideo", "ok", {"duration": 7}, "duration"),
    ("soravideo", "ok", {"duration": 5, "pro": True}, "duration"),
    ("soravideo", "ok", {"quality": "high"}, "quality"),
    ("soravideo", "ok", {"quality": "ultra", "pro": True}, "quality"),
    ("openai", "ok", {"size": "640x480"}, "size"),
    ("openai", "ok", {"seconds": 5}, "seconds"),
    ("openai", "ok", {"model": "sora-3"}, "model"),
    ("codefast", "ok", {"model": "sora-2-square"}, "model"),
    ("codefast", "ok", {"duration": 10}, "duration"),
    ("codefast", "ok", {"negative_prompt": "blur"}, "negative_prompt"),
    ("openai", "ok", {"quality": "high"}, "quality"),
    ("codefast", "ok", {"image": GIF}, "image"),
    ("soravideo", "ok", {"image": "http://example.com/cat.jpg"}, "image"),
    ("codefast", "ok", {"image": "ftp://example.com/cat.jpg"}, "image"),
    ("codefast", "ok", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("provider", "prompt", "params", "field"), BAD_INPUTS)
async def test_bad_input_is_refused_before_sending(
    provider: str, prompt: str, params: dict[str, Any], field: str
) -> None:
    async with simulated(provider) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.submit(prompt, **params)
        assert client.simulator is not None
        assert client.simulator.counters.total == 0
    assert caught.value.field == field
    assert field in str(caught.value)


async def test_allowed_values_are_named() -> None:
    async with simulated("soravideo") as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.submit("ok", aspect_ratio="4:3")
    assert "16:9" in str(caught.value) and "1:1" in str(caught.value)


async def test_image_over_the_size_cap(tmp_path: Path) -> None:
    image = tmp_path / "big.png"
    image.write_bytes(PNG + b"\x00" * 2000)
    async with simulated("codefast") as client:
        client.provider.max_image_bytes = 1000  # type: ignore[misc]
        with pytest.raises(InvalidRequestError, match="at most 1000"):
            await client.submit("ok", image=image)


async def test_missing_image_file(tmp_path: Path) -> None:
    async with simulated("codefast") as client:
        with pytest.raises(InvalidRequestError, match="cannot read"):
            await client.submit("ok", image=tmp_path / "nope.png")


async def test_batch_parameters_are_checked_before_any_prompt_is_read() -> None:
    read: list[str] = []

    def prompts() -> Any:
        read.append("x")
        yield "a prompt"

    async with simulated("codefast") as client:
        with pytest.raises(InvalidRequestError):
            await client.generate_batch(prompts(), aspect_ratio="4:3")
    assert read == []


@pytest.mark.parametrize(
    ("option", "value"),
    [("poll_interval", 0), ("timeout", -1), ("max_connections", 0), ("max_retries", -1)],
)
def test_bad_client_options(option: str, value: float) -> None:
    with pytest.raises(InvalidRequestError, match=option):
        AsyncSoraClient(api_key="k", **{option: value})


def test_unknown_provider() -> None:
    with pytest.raises(InvalidRequestError, match="codefast"):
        AsyncSoraClient(api_key="k", provider="nope")
