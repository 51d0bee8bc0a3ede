"""Calendar arithmetic on ISO dates (proleptic Gregorian, no time zones)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from agentops.agents.tools.errors import ToolArgumentError

# Not strftime("%A"): that follows the process locale, and answers must not change with it.
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _from_iso_text(value: Any) -> Any:
    """JSON has no date: a date argument is text in exactly this form, nothing else.

    Lax pydantic would also take a Unix timestamp or ``20240101``; strict pydantic takes no text.
    """
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return date.fromisoformat(value)


IsoDate = Annotated[
    date, BeforeValidator(_from_iso_text), Field(description="a date as YYYY-MM-DD")
]


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
