"""The period the report tests use, and a clock within it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agentops.reports import Period

DAY = Period(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC))  # a Monday
GIB = 1024**3


def at(hours: float, day: Period = DAY) -> datetime:
    return day.start + timedelta(hours=hours)
