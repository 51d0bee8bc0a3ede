"""The report orchestration: one activity that builds and stores a day's report.

Deterministic: its only input is the work the timer derived from the day; the activity does
the I/O. An orchestration of its own (rather than work in the timer) gives the build Durable's
retries and one instance per report id, which is what makes a repeated timer harmless.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from activities.reports import build_report
from agentops.reports.periods import ReportWork

bp = df.Blueprint()

REPORT_ORCHESTRATOR = "daily_report"

# A worker that dies mid-build: the retried activity builds again (the record is written last).
ACTIVITY_CRASH_RETRY = df.RetryOptions(
    first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3
)


@bp.orchestration_trigger(context_name="context")
def daily_report(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    work = ReportWork.model_validate(context.get_input())
    summary: dict[str, Any] = yield context.call_activity_with_retry(
        build_report, ACTIVITY_CRASH_RETRY, work.model_dump(mode="json")
    )
    return summary
