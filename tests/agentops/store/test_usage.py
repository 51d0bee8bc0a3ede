"""The store contract for usage counters.

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest


async def test_add_usage_is_atomic_under_concurrency(store):
    day = date(2026, 11, 26)
    await asyncio.gather(*(store.add_usage("tenant:acme", day, 100, 0.5) for _ in range(25)))
    tokens, cost = await store.get_usage("tenant:acme", day)
    assert tokens == 2_500
    assert cost == pytest.approx(12.5)
    assert await store.add_usage("tenant:acme", day, 1, 0.25) == (2_501, pytest.approx(12.75))
    assert await store.get_usage("tenant:acme", date(2026, 11, 27)) == (0, 0.0)
    assert await store.get_usage("agent:calc", day) == (0, 0.0)
