"""Hypothesis profiles for the fuzz tests.

The normal suite runs a small, fixed (derandomized) number of examples per target, so it is
fast and cannot flake. A deep run draws fresh random examples::

    SORA_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/fuzz -q
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from tls_once import share_tls_context

_DEEP = int(os.environ.get("SORA_FUZZ_EXAMPLES", "0") or 0)

settings.register_profile(
    "sora-fuzz",
    max_examples=_DEEP or 120,
    derandomize=not _DEEP,
    database=None,
    deadline=None,
    print_blob=bool(_DEEP),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("sora-fuzz")


@pytest.fixture(autouse=True, scope="module")
def _one_tls_context() -> Iterator[None]:
    """httpx's CA bundle loaded once, not for every client (see ``tests/tls_once.py``)."""
    with pytest.MonkeyPatch.context() as patch:
        share_tls_context(patch)
        yield
