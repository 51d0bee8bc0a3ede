"""Reports in Cosmos DB: container `reports`, partition `/kind`, id the report's id.

A few documents per kind and day. Listing one kind is a single-partition query (composite index
kind, period_start desc, id desc); a point read by id alone does not know the partition, so it
is a query on the id (cross-partition, one document).
"""

from __future__ import annotations

from typing import Any

from agentops.store.checks import decode_cursor, keyset_after, page_of
from agentops.store.cosmos.connection import CosmosConnection, remote
from agentops.store.records import Page, ReportRecord


class CosmosReportStore:
    def __init__(self, connection: CosmosConnection) -> None:
        self._db = connection

    @remote
    async def put_report(self, report: ReportRecord) -> None:
        container = await self._db.container("reports")
        await container.upsert_item(report.to_doc())

    @remote
    async def get_report(self, report_id: str) -> ReportRecord | None:
        docs = await self._db.query(
            "reports", "SELECT * FROM c WHERE c.id = @id", None, id=report_id
        )
        return ReportRecord.from_doc(docs[0]) if docs else None

    @remote
    async def list_reports(
        self, kind: str | None, *, limit: int = 50, continuation: str | None = None
    ) -> Page[ReportRecord]:
        where: list[str] = []
        params: dict[str, Any] = {"n": limit + 1}
        if kind is not None:
            where.append("c.kind = @kind")
            params["kind"] = kind
        if continuation:
            start, report_id = decode_cursor(continuation, 2)
            condition, marks = keyset_after(
                ("c.period_start", "c.id"), (str(start), str(report_id)), "@", descending=True
            )
            where.append(condition)
            params |= marks
        query = "SELECT TOP @n * FROM c"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY c.period_start DESC, c.id DESC"
        docs = await self._db.query("reports", query, kind, **params)
        return page_of(docs, limit, ("period_start", "id"), ReportRecord.from_doc)
