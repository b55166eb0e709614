"""Fixtures for every test in tests/hostile/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tls_once import share_tls_context


@pytest.fixture(autouse=True, scope="module")
def _one_tls_context() -> Iterator[None]:
    """httpx's CA bundle loaded once, not for every client (see ``tests/tls_once.py``)."""
    with pytest.MonkeyPatch.context() as patch:
        share_tls_context(patch)
        yield
