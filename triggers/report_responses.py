"""What the report routes answer, in camelCase like the rest of the API.

A report's own document (`ReportView.report`) is the engines' model as stored in its JSON blob,
with the engines' snake_case keys: the same document the blob and the CLI hand out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from agentops.reports.compliance import ComplianceReport
from agentops.reports.cost_models import CostReport
from agentops.store.records import ReportRecord
from triggers.responses import Response

Headline = dict[str, float | int | bool | str | None]


class ReportSummary(Response):
    id: str
    kind: Literal["cost", "compliance"]
    period_start: datetime
    period_end: datetime
    created_at: datetime
    headline: Headline
    report_uri: str
    html_uri: str

    @classmethod
    def of(cls, record: ReportRecord, base_url: str) -> ReportSummary:
        uri = f"{base_url}/api/reports/{record.id}"
        return cls(
            id=record.id,
            kind=record.kind,  # type: ignore[arg-type]
            period_start=record.period_start,
            period_end=record.period_end,
            created_at=record.created_at,
            headline=record.headline,
            report_uri=uri,
            html_uri=f"{uri}?format=html",
        )


class ReportList(Response):
    reports: list[ReportSummary]
    continuation: str | None
    next_uri: str | None


class ReportView(Response):
    summary: ReportSummary
    report: CostReport | ComplianceReport


REPORT_RESPONSE_MODELS: tuple[type[Response], ...] = (ReportList, ReportView)
