"""The port of daily usage counters: partition `scope` ("tenant:acme"), id the UTC day."""

from __future__ import annotations

from datetime import date
from typing import Protocol


class UsageStore(Protocol):
    async def add_usage(self, scope: str, day: date, tokens: int, cost: float) -> tuple[int, float]:
        """Add atomically; returns the day's totals after the addition."""
        ...

    async def get_usage(self, scope: str, day: date) -> tuple[int, float]: ...
