"""Reports in SQLite: `reports` keyed by id, indexed by kind and period for newest-first lists."""

from __future__ import annotations

from typing import Any

from agentops.store.checks import decode_cursor, keyset_after, page_of
from agentops.store.records import Page, ReportRecord
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import UPSERT_SQL, loads, row


class SqliteReportStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def put_report(self, report: ReportRecord) -> None:
        values = row("reports", report.to_doc())
        await self._db.call(lambda conn: conn.execute(UPSERT_SQL["reports"], values))

    async def get_report(self, report_id: str) -> ReportRecord | None:
        found = await self._db.call(
            lambda conn: conn.execute(
                "SELECT doc FROM reports WHERE id = ?", (report_id,)
            ).fetchone()
        )
        return None if found is None else ReportRecord.from_doc(loads(found[0]))

    async def list_reports(
        self, kind: str | None, *, limit: int = 50, continuation: str | None = None
    ) -> Page[ReportRecord]:
        where: list[str] = []
        params: dict[str, Any] = {"n": limit + 1}
        if kind is not None:
            where.append("kind = :kind")
            params["kind"] = kind
        if continuation:
            start, report_id = decode_cursor(continuation, 2)
            condition, marks = keyset_after(
                ("period_start", "id"), (str(start), str(report_id)), ":", descending=True
            )
            where.append(condition)
            params |= marks
        sql = "SELECT doc FROM reports"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY period_start DESC, id DESC LIMIT :n"
        rows = await self._db.call(lambda conn: conn.execute(sql, params).fetchall())
        docs = [loads(found[0]) for found in rows]
        return page_of(docs, limit, ("period_start", "id"), ReportRecord.from_doc)
