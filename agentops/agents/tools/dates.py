"""Calendar arithmetic on ISO dates (proleptic Gregorian, no time zones)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from pydantic import Field

from agentops.agents.tools.errors import ToolArgumentError

# Not strftime("%A"): that follows the process locale, and answers must not change with it.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

IsoDate = Annotated[date, Field(description="a date as YYYY-MM-DD")]


def days_between(start: IsoDate, end: IsoDate) -> int:
    """Count the days from start to end: positive when end is later, negative when earlier."""
    return (end - start).days


def weekday(day: IsoDate) -> str:
    """Name the day of the week of a date, for example Monday."""
    return _WEEKDAYS[day.weekday()]


def add_days(
    day: IsoDate,
    days: Annotated[int, Field(description="days to add; negative to go back")],
) -> str:
    """Add a number of days to a date and return the new date as YYYY-MM-DD."""
    try:
        return (day + timedelta(days=days)).isoformat()
    except OverflowError as exc:
        raise ToolArgumentError("the date falls outside years 1 to 9999") from exc
