"""Fixtures for the shared-state tests: a real Redis server per test, a real PostgreSQL
server per test session with a fresh schema per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pg_support import Postgres, postgres_server
from state_support import RedisServer, redis_server


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_url(postgres: Postgres) -> str:
    """A fresh, empty schema on the session's PostgreSQL (its URL names it)."""
    return postgres.database()
