"""Report ids and days: derived from the UTC day alone, so every builder names the same report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from agentops.reports.periods import (
    ReportWork,
    is_report_id,
    period_key,
    report_id,
    report_work_for_previous_day,
)
from agentops.store.records import dt_to_doc


def test_the_timer_reports_the_utc_day_before():
    # 00:30 on 2 December in UTC+1 is 23:30 on 1 December in UTC: the day before is 30 November.
    at = datetime(2026, 12, 2, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    work = report_work_for_previous_day("cost", at)
    assert work == ReportWork(kind="cost", day=date(2026, 11, 30))
    assert work.report_id == "cost-20261130"
    assert work.period.start == datetime(2026, 11, 30, tzinfo=UTC)
    assert work.period.end == datetime(2026, 12, 1, tzinfo=UTC)
    assert report_work_for_previous_day("cost", datetime(2026, 12, 1, 23, 59, tzinfo=UTC)) == work
    with pytest.raises(ValueError, match="timezone"):
        report_work_for_previous_day("cost", datetime(2026, 12, 2))


def test_ids_and_their_period_keys():
    assert report_id("compliance", date(2026, 1, 9)) == "compliance-20260109"
    assert is_report_id("cost-20260109") and not is_report_id("cost-2026010")
    assert not is_report_id("../cost-20260109") and not is_report_id("usage-20260109")
    # The key is what the store keeps as period_start, so lists page from an id alone.
    assert period_key("cost-20260109") == dt_to_doc(datetime(2026, 1, 9, tzinfo=UTC))
    assert period_key("cost-99999999") > period_key("cost-20260109")
    with pytest.raises(ValueError):
        report_id("usage", date(2026, 1, 9))
    with pytest.raises(ValidationError):
        ReportWork.model_validate({"kind": "usage", "day": "2026-01-09"})
