"""Virtual time and the real SQLite store for the model path tests: no wall-clock waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentops.model.types import ModelRequest
from agentops.store.sqlite import SqliteStore


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
async def store(tmp_path: Path, clock: VirtualClock) -> AsyncIterator[SqliteStore]:
    """The shared level: the project's SQLite store, expiring entries by the virtual clock."""
    async with SqliteStore(tmp_path / "agentops.db", clock=clock.wall) as sqlite:
        yield sqlite


def TODAY_OF(clock: VirtualClock) -> date:
    return clock.wall().date()
