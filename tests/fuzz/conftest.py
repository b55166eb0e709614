"""Hypothesis profiles for the fuzz tests.

The normal suite runs a small, fixed (derandomized) number of examples per target, so it is
fast and cannot flake. A deep run draws fresh random examples::

    SORA_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest tests/fuzz -q
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
