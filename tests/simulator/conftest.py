"""Fixtures for the simulator's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tls_once import share_tls_context


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param


class FakeClock:
    """A monotonic clock the test moves by hand (``clock.t = 12.5``)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True, scope="module")
def _one_tls_context() -> Iterator[None]:
    """httpx's CA bundle loaded once, not for every client (see ``tests/tls_once.py``)."""
    with pytest.MonkeyPatch.context() as patch:
        share_tls_context(patch)
        yield
