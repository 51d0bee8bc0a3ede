"""Reports in SQLite: `reports` keyed by id, indexed by kind and period for newest-first lists."""

from __future__ import annotations

import json

from agentops.store.checks import decode_cursor, encode_cursor
from agentops.store.records import Page, ReportRecord
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import UPSERT_SQL, row


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
        return None if found is None else ReportRecord.from_doc(json.loads(found[0]))

    async def list_reports(
        self, kind: str | None, *, limit: int = 50, continuation: str | None = None
    ) -> Page[ReportRecord]:
        where: list[str] = []
        params: list[str | int] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if continuation:
            start, report_id = decode_cursor(continuation, 2)
            where.append("(period_start < ? OR (period_start = ? AND id < ?))")
            params += [str(start), str(start), str(report_id)]
        sql = "SELECT doc FROM reports"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY period_start DESC, id DESC LIMIT ?"
        params.append(limit + 1)
        rows = await self._db.call(lambda conn: conn.execute(sql, params).fetchall())
        docs = [json.loads(found[0]) for found in rows]
        more = len(docs) > limit
        docs = docs[:limit]
        token = encode_cursor(docs[-1]["period_start"], docs[-1]["id"]) if more else None
        return Page([ReportRecord.from_doc(doc) for doc in docs], token)
