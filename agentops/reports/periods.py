"""Which report covers which day: report ids, daily periods, and the work a timer hands over.

A report covers one UTC day and its id is derived from the day alone (`cost-20261201`), so a
timer that fires twice, a retried activity and an operator's command all name the same report.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from agentops.reports.inputs import Period

ReportKind = Literal["cost", "compliance"]
REPORT_KINDS: tuple[str, ...] = get_args(ReportKind)
# The ids this module gives out: a kind and a UTC day. Anything else names no report.
REPORT_ID_PATTERN = r"^(cost|compliance)-[0-9]{8}$"
_REPORT_ID = re.compile(REPORT_ID_PATTERN)


class ReportWork(BaseModel):
    """What the report orchestration and its activity are given: the kind and the UTC day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ReportKind
    day: date

    @property
    def report_id(self) -> str:
        return report_id(self.kind, self.day)

    @property
    def period(self) -> Period:
        return day_period(self.day)


def day_period(day: date) -> Period:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return Period(start, start + timedelta(days=1))


def report_id(kind: str, day: date) -> str:
    if kind not in REPORT_KINDS:
        raise ValueError(f"unknown report kind {kind!r}; expected one of {', '.join(REPORT_KINDS)}")
    return f"{kind}-{day:%Y%m%d}"


def is_report_id(value: str) -> bool:
    return bool(_REPORT_ID.match(value))


def period_key(report_id: str) -> str:
    """The stored `period_start` of the report by this id, as the store writes it (fixed-width
    ISO 8601), from the id's digits alone: lists page on it without reading the report, and an
    id-shaped value that is no date still orders (after every real day, or before)."""
    if not is_report_id(report_id):
        raise ValueError("not a report id")
    digits = report_id[-8:]
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}T00:00:00.000000Z"


def report_work_for_previous_day(kind: ReportKind, now: datetime) -> ReportWork:
    """The report a timer firing at `now` makes: the UTC day before the one `now` falls in."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return ReportWork(kind=kind, day=now.astimezone(UTC).date() - timedelta(days=1))
