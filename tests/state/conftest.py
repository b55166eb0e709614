"""Fixtures for the shared-state tests: a real Redis server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from state_support import RedisServer, redis_server


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server
