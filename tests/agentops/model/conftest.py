"""Virtual time and in-process stores for the model path tests: no wall-clock waits."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentops.model.types import ModelRequest


class VirtualClock:
    """Monotonic seconds and a UTC wall clock that move only when a test (or sleep) moves them."""

    def __init__(self, start: datetime = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.t = 1000.0
        self.start = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return self.start + timedelta(seconds=self.t - 1000.0)

    def epoch(self) -> float:
        return self.wall().timestamp()

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


class MemoryStore:
    """Dict-backed cache and usage store, expiring by the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.cache: dict[str, tuple[dict[str, Any], float]] = {}
        self.usage: dict[tuple[str, str], tuple[int, float]] = {}
        self.gets = 0

    async def cache_get(self, key: str) -> dict[str, Any] | None:
        self.gets += 1
        found = self.cache.get(key)
        if found is None or found[1] <= self.clock.epoch():
            return None
        return dict(found[0])

    async def cache_put(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        self.cache[key] = (dict(value), self.clock.epoch() + ttl_s)

    async def add_usage(self, scope: str, day: str, tokens: int, cost: float) -> None:
        old = self.usage.get((scope, day), (0, 0.0))
        self.usage[(scope, day)] = (old[0] + tokens, old[1] + cost)

    async def get_usage(self, scope: str, day: str) -> tuple[int, float]:
        return self.usage.get((scope, day), (0, 0.0))


BASE_REQUEST = ModelRequest(
    tenant="contoso",
    agent="helper",
    agent_version="v1",
    deployment="gpt-4o-mini",
    tools=("add", "convert"),
    query="What is  2 + 2?",
    max_output_tokens=100,
    cache_ttl_s=300,
    sensitive=False,
)


def make_request(**changes: Any) -> ModelRequest:
    return replace(BASE_REQUEST, **changes)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def store(clock: VirtualClock) -> MemoryStore:
    return MemoryStore(clock)
