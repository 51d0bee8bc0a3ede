"""The audit trail in SQLite: rows keyed by (tenant_id, seq), so a position is taken once."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from agentops.store.checks import decode_cursor, keyset_after, page_of
from agentops.store.errors import AuditConflictError
from agentops.store.records import AuditEntry, Page, dt_to_doc, utc
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import INSERT_SQL, loads, row


class SqliteAuditStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def append_audit(self, entry: AuditEntry) -> bool:
        doc = entry.to_doc()

        def op(conn: sqlite3.Connection) -> bool:
            try:
                conn.execute(INSERT_SQL["audit"], row("audit", doc))
                return True
            except sqlite3.IntegrityError:
                found = conn.execute(
                    "SELECT entry_id FROM audit WHERE tenant_id = ? AND seq = ?",
                    (entry.tenant_id, entry.seq),
                ).fetchone()
                if found is not None and found[0] == entry.id:
                    return False
                raise AuditConflictError(entry.tenant_id, entry.seq) from None

        return await self._db.call(op)

    async def last_audit(self, tenant_id: str) -> AuditEntry | None:
        found = await self._db.call(
            lambda conn: conn.execute(
                "SELECT doc FROM audit WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1", (tenant_id,)
            ).fetchone()
        )
        return None if found is None else AuditEntry.from_doc(loads(found[0]))

    async def list_audit(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        limit: int = 100,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        after = int(decode_cursor(continuation, 1)[0]) if continuation else -1
        since_key = dt_to_doc(since) if since is not None else ""
        rows = await self._db.call(
            lambda conn: conn.execute(
                "SELECT doc FROM audit WHERE tenant_id = ? AND seq > ? AND at >= ? "
                "ORDER BY seq LIMIT ?",
                (tenant_id, after, since_key, limit + 1),
            ).fetchall()
        )
        docs = [loads(found[0]) for found in rows]
        return page_of(docs, limit, ("seq",), AuditEntry.from_doc)

    async def list_audit_between(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        sql = "SELECT doc FROM audit WHERE at >= :start AND at < :end"
        params: dict[str, Any] = {
            "start": dt_to_doc(utc(start)) or "",
            "end": dt_to_doc(utc(end)) or "",
            "n": limit + 1,
        }
        if continuation:
            at, tenant_id, seq = decode_cursor(continuation, 3)
            condition, marks = keyset_after(
                ("at", "tenant_id", "seq"), (str(at), str(tenant_id), int(seq)), ":"
            )
            sql += f" AND {condition}"
            params |= marks
        sql += " ORDER BY at, tenant_id, seq LIMIT :n"
        rows = await self._db.call(lambda conn: conn.execute(sql, params).fetchall())
        docs = [loads(found[0]) for found in rows]
        return page_of(docs, limit, ("at", "tenant_id", "seq"), AuditEntry.from_doc)

    async def list_audit_tenants(self) -> list[str]:
        # DISTINCT over the primary key's first column: an index scan, not a table scan.
        rows = await self._db.call(
            lambda conn: conn.execute("SELECT DISTINCT tenant_id FROM audit ORDER BY 1").fetchall()
        )
        return [found[0] for found in rows]
