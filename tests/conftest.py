"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tls_once import share_tls_context


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True, scope="module")
def _one_tls_context() -> Iterator[None]:
    """httpx's CA bundle loaded once, not for every client (see ``tests/tls_once.py``)."""
    with pytest.MonkeyPatch.context() as patch:
        share_tls_context(patch)
        yield
