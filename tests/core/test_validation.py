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


CANARY = "sk-canary-4d2b"


@pytest.mark.parametrize(
    "key",
    [
        "sk-a\nb",
        "sk-a\r\nb",
        "sk-a\x00b",
        "sk-a b",
        "sk-a\tb",
        "sk-\x7fab",
        "sk-ключ",
        "sk-a\u200bb",
        f"{CANARY}\r\nX-Injected: 1",
    ],
)
def test_a_key_that_cannot_travel_in_a_header_is_refused(key: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        AsyncSoraClient(api_key=key)
    assert caught.value.field == "api_key"
    assert key not in f"{caught.value} {caught.value!r}"
    assert CANARY not in f"{caught.value} {caught.value!r}"


def test_surrounding_whitespace_of_a_key_is_dropped() -> None:
    assert AsyncSoraClient(api_key="  sk-ok\n")._api_key.reveal() == "sk-ok"


@pytest.mark.parametrize("key", [b"sk-bytes", 12345])
def test_a_key_that_is_not_a_string_is_refused(key: object) -> None:
    with pytest.raises(InvalidRequestError, match="api_key"):
        AsyncSoraClient(api_key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com",
        "file:///etc/passwd",
        "",
        "   ",
        "http://[::1",
        "https://",
        "example.com/api",
        "http://127.0.0.1:99999",
        " https://api.example.com",
        "https://api.exa mple.com",
        "http://10.0.0.7:8000",
        "http://sora.example.com",
    ],
)
def test_unsafe_or_broken_base_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        AsyncSoraClient(api_key="k", base_url=url)
    assert caught.value.field == "base_url"


def test_a_base_url_with_a_password_is_refused_without_showing_it() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        AsyncSoraClient(api_key="k", base_url="https://user:hunter2@relay.example.com")
    assert "hunter2" not in f"{caught.value} {caught.value!r}"
    assert "password" in str(caught.value)


def test_plain_http_to_another_machine_needs_the_opt_in() -> None:
    with pytest.raises(InvalidRequestError, match="allow_insecure_http=True"):
        AsyncSoraClient(api_key="k", base_url="http://10.0.0.7:8000")
    client = AsyncSoraClient(api_key="k", base_url="http://10.0.0.7:8000", allow_insecure_http=True)
    assert client.provider.base_url == "http://10.0.0.7:8000"


@pytest.mark.parametrize(
    "url",
    [
        "https://relay.example.com/v1",
        "http://127.0.0.1:8000",
        "http://127.0.0.2:8000",
        "http://localhost:8000/api",
        "http://[::1]:8000",
    ],
)
def test_safe_base_urls_are_accepted(url: str) -> None:
    client = AsyncSoraClient(api_key="k", provider="openai", base_url=url)
    assert client.provider.base_url == url.rstrip("/")


def test_an_unsafe_base_url_of_a_provider_instance_is_refused() -> None:
    from sora_async.providers import CodefastProvider

    with pytest.raises(InvalidRequestError, match="clear text"):
        AsyncSoraClient(api_key="k", provider=CodefastProvider(base_url="http://10.1.2.3"))


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("timeout", "30"),
        ("timeout", float("nan")),
        ("timeout", float("inf")),
        ("timeout", True),
        ("timeout", None),
        ("max_connections", 2.5),
        ("max_connections", True),
        ("max_connections", "8"),
        ("max_retries", None),
        ("max_retries", 1.5),
        ("poll_interval", float("nan")),
        ("max_poll_interval", "30"),
        ("poll_concurrency", 0),
        ("poll_concurrency", 2.0),
        ("allow_insecure_http", "yes"),
        ("http_client", "http://127.0.0.1"),
    ],
)
def test_client_options_of_the_wrong_kind(option: str, value: object) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        AsyncSoraClient(api_key="k", **{option: value})  # type: ignore[arg-type]
    assert caught.value.field == option


@pytest.mark.parametrize("timeout", [-1, float("nan"), "30", True])
async def test_generate_checks_its_timeout_before_submitting(timeout: object) -> None:
    async with simulated("codefast") as client:
        with pytest.raises(InvalidRequestError, match="timeout"):
            await client.generate("a fox", timeout=timeout)  # type: ignore[arg-type]
        with pytest.raises(InvalidRequestError, match="timeout"):
            await client.wait("some-job", timeout=timeout)  # type: ignore[arg-type]
        assert client.simulator is not None
        assert client.simulator.counters.total == 0


async def test_generate_checks_its_callback_before_submitting() -> None:
    async with simulated("codefast") as client:
        with pytest.raises(InvalidRequestError, match="on_update"):
            await client.generate("a fox", on_update="print")  # type: ignore[arg-type]
        assert client.simulator is not None
        assert client.simulator.counters.total == 0


@pytest.mark.parametrize("limit", ["5", -1, 2.5, True])
async def test_list_videos_checks_its_limit(limit: object) -> None:
    async with simulated("openai") as client:
        with pytest.raises(InvalidRequestError, match="limit"):
            await client.list_videos(limit=limit)  # type: ignore[arg-type]
        assert client.simulator is not None
        assert client.simulator.counters.total == 0


@pytest.mark.parametrize(
    ("provider", "options", "field"),
    [
        ("openai", {"variant": "bogus"}, "variant"),
        ("codefast", {"variant": "thumbnail"}, None),
        ("openai", {"dest": 123}, "dest"),
        ("openai", {"overwrite": "no"}, "overwrite"),
        ("openai", {"job": ""}, "job_id"),
        ("openai", {"job": None}, "job_id"),
    ],
)
async def test_download_checks_its_options_before_any_request(
    provider: str, options: dict[str, Any], field: str | None, tmp_path: Path
) -> None:
    options = {"dest": tmp_path, **options}
    job = options.pop("job", "video_123")
    async with simulated(provider) as client:
        with pytest.raises(InvalidRequestError) as caught:
            await client.download(job, **options)
        assert client.simulator is not None
        assert client.simulator.counters.total == 0
    assert caught.value.field == field
    assert list(tmp_path.iterdir()) == []


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
