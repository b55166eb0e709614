"""get_provider and the package's public names."""

from __future__ import annotations

import pytest

import sora_async.providers as providers
from sora_async._errors import InvalidRequestError
from sora_async.providers import (
    CodefastProvider,
    OpenAIProvider,
    Provider,
    SoravideoProvider,
    get_provider,
)


def test_all_is_sorted_and_complete() -> None:
    assert providers.__all__ == sorted(providers.__all__)
    assert set(providers.__all__) == {
        "CodefastProvider",
        "ImageData",
        "OpenAIProvider",
        "Provider",
        "ProviderLimits",
        "SoravideoProvider",
        "VideoPage",
        "get_provider",
    }


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("codefast", CodefastProvider),
        ("soravideo", SoravideoProvider),
        ("openai", OpenAIProvider),
        (" OpenAI ", OpenAIProvider),
    ],
)
def test_by_name(name: str, cls: type[Provider]) -> None:
    provider = get_provider(name)
    assert type(provider) is cls
    assert provider.base_url == cls.default_base_url


def test_by_name_at_another_base_url() -> None:
    provider = get_provider("codefast", base_url="http://127.0.0.1:8000/")
    assert provider.base_url == "http://127.0.0.1:8000"
    assert str(provider.status_request("j").url) == "http://127.0.0.1:8000/status/j"


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(InvalidRequestError) as info:
        get_provider("veo")
    assert info.value.field == "provider"
    assert info.value.allowed == ("codefast", "openai", "soravideo")
    assert "codefast, openai, soravideo" in str(info.value)


def test_an_instance_is_used_as_is() -> None:
    provider = CodefastProvider(paths={"status": "/jobs/{job_id}"})
    assert get_provider(provider) is provider


def test_an_instance_moved_to_another_base_url_is_a_copy() -> None:
    provider = CodefastProvider(paths={"status": "/jobs/{job_id}"})
    moved = get_provider(provider, base_url="http://sim.test/")
    assert moved is not provider
    assert provider.base_url == "https://sora-api.codefast.app"
    assert str(moved.status_request("j").url) == "http://sim.test/jobs/j"


@pytest.mark.parametrize("cls", [CodefastProvider, SoravideoProvider, OpenAIProvider])
def test_repr_shows_no_key(cls: type[Provider]) -> None:
    provider = cls()
    provider.auth_headers("sk-secret")
    assert "sk-secret" not in repr(provider)
    assert "sk-secret" not in repr(vars(provider))
