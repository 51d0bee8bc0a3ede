"""Timer triggers: NCRONTAB schedules (six fields, seconds first) and the loop that fires them.

Schedules are evaluated in UTC, the Functions default when WEBSITE_TIME_ZONE is not set. Like the
Functions host, one timer function never overlaps itself: the next occurrence is computed after
the previous invocation returns, and an invocation that starts late is marked past due.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devhost.loader import AppLoadError, expand_settings

logger = logging.getLogger(__name__)

# Azure calls a timer past due when it starts noticeably after its scheduled time.
PAST_DUE_AFTER = timedelta(seconds=1)
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})")


class ScheduleError(AppLoadError):
    """A timer schedule that does not parse; names the function and the schedule."""


@dataclass(frozen=True, slots=True)
class TimerSchedule:
    """A parsed schedule: an NCRONTAB expression or a fixed interval (`hh:mm:ss`)."""

    expression: str
    croniter_expression: str | None
    interval: timedelta | None

    def next_after(self, moment: datetime) -> datetime:
        if self.interval is not None:
            return moment + self.interval
        from croniter import croniter

        assert self.croniter_expression is not None
        return croniter(self.croniter_expression, moment, ret_type=datetime).get_next(datetime)


def _shown(expression: str, raw: str) -> str:
    return repr(expression) if expression == raw.strip() else f"{expression!r} (from {raw!r})"


def parse_schedule(function_name: str, raw: str, environ: Mapping[str, str]) -> TimerSchedule:
    """Expand `%SETTING%` references and parse; errors name the function and the schedule."""
    try:
        expression = expand_settings(raw, environ, what=f"timer {function_name!r} schedule")
    except AppLoadError as error:
        raise ScheduleError(str(error)) from None
    expression = expression.strip()
    interval = _TIMESPAN.fullmatch(expression)
    if interval:
        days, hours, minutes, seconds = (int(g or 0) for g in interval.groups())
        span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if span <= timedelta(0):
            raise ScheduleError(
                f"timer {function_name!r}: schedule {expression!r} is a zero interval"
            )
        return TimerSchedule(expression, None, span)
    fields = expression.split()
    if len(fields) != 6:
        raise ScheduleError(
            f"timer {function_name!r}: schedule {_shown(expression, raw)} is not a valid "
            f"NCRONTAB expression: expected 6 fields (second minute hour day month day-of-week), "
            f"got {len(fields)}"
        )
    # NCRONTAB puts seconds first; croniter takes them as an optional sixth field at the end.
    converted = " ".join([*fields[1:], fields[0]])
    from croniter import croniter

    try:
        croniter(converted, datetime.now(UTC)).get_next(datetime)
    except (ValueError, KeyError) as error:
        # croniter quotes the reordered fields; show only its reason.
        reason = re.sub(r"^\[[^\]]*\]\s*", "", str(error))
        raise ScheduleError(
            f"timer {function_name!r}: schedule {_shown(expression, raw)} is not a valid "
            f"NCRONTAB expression: {reason}"
        ) from None
    return TimerSchedule(expression, converted, None)


TimerCallback = Callable[[bool], Awaitable[None]]
"""Invokes one timer function; the argument is `past_due`. Must log, not raise, its failures."""


@dataclass(frozen=True, slots=True)
class TimerJob:
    name: str
    schedule: TimerSchedule
    run_on_startup: bool
    fire: TimerCallback


class TimerScheduler:
    """Runs each job on its schedule on the current event loop until `stop()`."""

    def __init__(
        self, jobs: list[TimerJob], *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._jobs = jobs
        self._clock = clock or (lambda: datetime.now(UTC))
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for job in self._jobs:
            self._tasks.append(asyncio.create_task(self._run(job), name=f"timer:{job.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _run(self, job: TimerJob) -> None:
        if job.run_on_startup:
            await self._fire(job, past_due=False)
        due = job.schedule.next_after(self._clock())
        while True:
            delay = (due - self._clock()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            late = self._clock() - due
            await self._fire(job, past_due=late > PAST_DUE_AFTER)
            due = job.schedule.next_after(max(self._clock(), due))

    @staticmethod
    async def _fire(job: TimerJob, *, past_due: bool) -> None:
        try:
            await job.fire(past_due)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The callback logs function failures itself; this guards the loop against bugs.
            logger.exception("timer %s: invocation failed", job.name)
