"""Quota's own helpers: the client asks them of every answer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sora_async import Quota

RESET = datetime(2025, 9, 21, tzinfo=UTC)


def test_a_quota_without_any_field_is_empty() -> None:
    assert Quota().is_empty
    assert Quota(daily_limit=None, credits=None).is_empty


@pytest.mark.parametrize("field", sorted(Quota.model_fields))
def test_any_one_field_makes_a_quota_not_empty(field: str) -> None:
    value = RESET if field.endswith("_reset") else 0
    assert not Quota(**{field: value}).is_empty
    assert not Quota().merged(Quota(**{field: value})).is_empty
