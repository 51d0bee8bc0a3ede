"""Figures both reports share: the rule behind a finding, a period, a change between periods."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agentops.reports.inputs import Period


class ReportModel(BaseModel):
    # Extra keys are ignored so that a stored report, with its computed fields, loads back.
    model_config = ConfigDict(frozen=True, extra="ignore")


class RuleCheck(ReportModel):
    """Why a finding was raised: the rule, its threshold and the value that crossed it."""

    name: str
    description: str
    comparison: Literal["<", "<=", ">", ">="]
    threshold: float
    observed: float


class PeriodOut(ReportModel):
    start: datetime
    end: datetime

    @classmethod
    def of(cls, period: Period) -> PeriodOut:
        return cls(start=period.start, end=period.end)


class Delta(ReportModel):
    """A figure against the period before: the change, and the change as a share of before."""

    metric: str
    current: float
    previous: float
    change: float
    change_ratio: float | None  # None when the period before had none of it

    @classmethod
    def of(cls, metric: str, current: float, previous: float) -> Delta:
        return cls(
            metric=metric,
            current=current,
            previous=previous,
            change=current - previous,
            change_ratio=(current - previous) / previous if previous else None,
        )
