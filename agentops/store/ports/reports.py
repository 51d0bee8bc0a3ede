"""The port of stored reports: one document per report, partition `kind`, id the report's id."""

from __future__ import annotations

from typing import Protocol

from agentops.store.records import Page, ReportRecord


class ReportStore(Protocol):
    async def put_report(self, report: ReportRecord) -> None:
        """Store the report under its id, replacing one by that id (a rebuild of its period)."""
        ...

    async def get_report(self, report_id: str) -> ReportRecord | None: ...

    async def list_reports(
        self, kind: str | None, *, limit: int = 50, continuation: str | None = None
    ) -> Page[ReportRecord]:
        """Newest period first; one kind (one partition), or every kind when None."""
        ...
