"""Every bad input is a typed InvalidRequestError naming the field, and nothing is sent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from core_support import simulated
from pydantic import ValidationError

from sora_async import AsyncSoraClient, GenerationRequest, InvalidRequestError
from sora_async._requests import make_request

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


# -- keyword overrides and strict types (issue 8, item 8) -------------------------------------

OVERRIDES: list[tuple[dict[str, Any], str]] = [
    ({"prompt": ""}, "prompt"),
    ({"prompt": "   "}, "prompt"),
    ({"prompt": None}, "prompt"),
    ({"prompt": 42}, "prompt"),
    ({"pro": "no"}, "pro"),
    ({"pro": 1}, "pro"),
    ({"pro": None}, "pro"),
    ({"image": 123}, "image"),
    ({"image": ""}, "image"),
    ({"image": "cat\x00.png"}, "image"),
    ({"duration": 10.0}, "duration"),
    ({"duration": True}, "duration"),
    ({"duration": "\uff11\uff10"}, "duration"),  # fullwidth digits
    ({"aspect_ratio": 16}, "aspect_ratio"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("override", "field"), OVERRIDES)
async def test_an_override_is_validated_like_a_keyword(
    override: dict[str, Any], field: str
) -> None:
    async with simulated("soravideo") as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.submit(GenerationRequest(prompt="ok"), **override)
        assert client.simulator is not None
        assert client.simulator.counters.total == 0
    assert caught.value.field == field


@pytest.mark.parametrize(("override", "field"), OVERRIDES)
async def test_a_bad_keyword_is_refused_before_sending(
    override: dict[str, Any], field: str
) -> None:
    params = {"prompt": "ok", **override}
    async with simulated("soravideo") as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.submit(params.pop("prompt"), **params)
        assert client.simulator is not None
        assert client.simulator.counters.total == 0
    assert caught.value.field == field


@pytest.mark.parametrize(("override", "field"), OVERRIDES)
def test_a_request_built_directly_refuses_bad_values(override: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        GenerationRequest(**{"prompt": "ok", **override})
    assert caught.value.errors()[0]["loc"][0] == field


async def test_pro_no_does_not_reach_the_pro_endpoint() -> None:
    async with simulated("soravideo") as client:
        with pytest.raises(InvalidRequestError, match="pro"):
            await client.submit(GenerationRequest(prompt="ok"), pro="no")
        job = await client.submit(GenerationRequest(prompt="ok"), pro=False)
        assert client.simulator is not None
        assert client.simulator.counters.total == 1
    assert job.id


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"duration": "10"}, {"duration": 10}),
        ({"seconds": "8"}, {"seconds": 8}),
        ({"pro": "true"}, {"pro": True}),
        ({"pro": "False"}, {"pro": False}),
        ({"image": Path("cat.png")}, {"image": Path("cat.png")}),
        ({"image": bytearray(PNG)}, {"image": PNG}),
    ],
)
def test_the_text_forms_a_csv_cell_holds_are_read(
    params: dict[str, Any], expected: dict[str, Any]
) -> None:
    request = make_request("ok", params)
    assert {name: getattr(request, name) for name in expected} == expected
    for name, value in expected.items():
        assert type(getattr(request, name)) is type(value)


def test_an_override_keeps_the_other_fields() -> None:
    base = GenerationRequest(prompt="ok", aspect_ratio="9:16", duration=10)
    request = make_request(base, {"prompt": "a fox", "duration": "15"})
    assert (request.prompt, request.aspect_ratio, request.duration) == ("a fox", "9:16", 15)
    assert make_request(base, {}) == base


def test_a_request_that_skipped_validation_is_checked_again() -> None:
    # model_construct skips pydantic's checks: submit must not trust it.
    unchecked = GenerationRequest.model_construct(prompt="ok", pro="no")
    with pytest.raises(InvalidRequestError) as caught:
        make_request(unchecked, {})
    assert caught.value.field == "pro"


@pytest.mark.parametrize(
    "image", ["https://[::1/cat.png", "https://\ud800/cat.png", "https://exa mple.test/x"]
)
async def test_an_image_url_that_cannot_be_sent_is_refused(image: str) -> None:
    async with simulated("codefast") as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.submit("ok", image=image)
        assert client.simulator is not None
        assert client.simulator.counters.total == 0
    assert caught.value.field == "image"


async def test_soravideo_refuses_an_unparseable_http_url_as_input() -> None:
    async with simulated("soravideo") as client:
        with pytest.raises(InvalidRequestError, match="image"):
            await client.submit("ok", image="http://[::1")


@pytest.mark.parametrize("kind", ["device", "fifo"])
async def test_an_image_that_is_not_a_regular_file_is_refused(kind: str, tmp_path: Path) -> None:
    # /dev/zero says it holds 0 bytes and never ends; a FIFO may never answer.
    path = Path("/dev/zero")
    if kind == "fifo":
        path = tmp_path / "pipe.png"
        os.mkfifo(path)
    if not path.exists():
        pytest.skip(f"{path} does not exist here")
    async with simulated("codefast") as client:
        with pytest.raises(InvalidRequestError, match="regular file"):
            await client.submit("ok", image=path)


async def test_a_prompt_given_twice_is_refused() -> None:
    async with simulated("codefast") as client:
        with pytest.raises(InvalidRequestError, match="given twice") as caught:
            await client.submit("ok", prompt="another")
    assert caught.value.field == "prompt"
