"""NCRONTAB parsing: six fields with seconds first, settings expanded, errors that name things."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devhost.timers import ScheduleError, parse_schedule

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("* * * * * *", T0 + timedelta(seconds=1)),
        ("30 * * * * *", T0 + timedelta(seconds=30)),
        ("0 */5 * * * *", T0 + timedelta(minutes=5)),
        ("0 0 * * * *", T0 + timedelta(hours=1)),
        ("0 30 9 * * Mon-Fri", datetime(2030, 1, 2, 9, 30, tzinfo=UTC)),
        ("00:00:10", T0 + timedelta(seconds=10)),
    ],
)
def test_next_occurrence(expression: str, expected: datetime) -> None:
    assert parse_schedule("f", expression, {}).next_after(T0) == expected


def test_setting_is_expanded() -> None:
    schedule = parse_schedule("f", "%S%", {"S": "15 * * * * *"})
    assert schedule.expression == "15 * * * * *"
    assert schedule.next_after(T0) == T0 + timedelta(seconds=15)


@pytest.mark.parametrize("expression", ["0 */5 * * *", "0 61 * * * *", "x * * * * *", "00:00:00"])
def test_bad_schedule_names_function_and_expression(expression: str) -> None:
    with pytest.raises(ScheduleError) as raised:
        parse_schedule("nightly", expression, {})
    assert "'nightly'" in str(raised.value)
    assert repr(expression) in str(raised.value)


def test_unset_setting_is_named() -> None:
    with pytest.raises(ScheduleError, match="%MISSING%"):
        parse_schedule("nightly", "%MISSING%", {})
