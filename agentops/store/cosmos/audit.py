"""The audit trail in Cosmos DB: partition `/tenant_id`, id = zero-padded seq. Append-only
creates (a taken id is a conflict, so a tenant's hash chain cannot fork), queries in seq order
within one tenant. The compliance report's reads cross partitions: a period's entries with the
time range in the WHERE clause (composite index at, tenant_id, seq), and the tenants that have a
chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.cosmos import exceptions

from agentops.store.checks import decode_cursor, keyset_after, page_of
from agentops.store.cosmos.connection import CosmosConnection, remote
from agentops.store.errors import AuditConflictError
from agentops.store.records import AuditEntry, Page, dt_to_doc, seq_id


class CosmosAuditStore:
    def __init__(self, connection: CosmosConnection) -> None:
        self._db = connection

    @remote
    async def append_audit(self, entry: AuditEntry) -> bool:
        container = await self._db.container("audit")
        try:
            await container.create_item(entry.to_doc())
            return True
        except exceptions.CosmosResourceExistsError:
            existing = await self._db.read("audit", seq_id(entry.seq), entry.tenant_id)
            if existing is not None and existing.get("entry_id") == entry.id:
                return False
            raise AuditConflictError(entry.tenant_id, entry.seq) from None

    @remote
    async def last_audit(self, tenant_id: str) -> AuditEntry | None:
        docs = await self._db.query(
            "audit",
            "SELECT TOP 1 * FROM c WHERE c.tenant_id = @tenant_id ORDER BY c.seq DESC",
            tenant_id,
            tenant_id=tenant_id,
        )
        return AuditEntry.from_doc(docs[0]) if docs else None

    @remote
    async def list_audit(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        limit: int = 100,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        after = int(decode_cursor(continuation, 1)[0]) if continuation else -1
        docs = await self._db.query(
            "audit",
            "SELECT TOP @n * FROM c WHERE c.tenant_id = @tenant_id AND c.seq > @after "
            "AND c.at >= @since ORDER BY c.seq",
            tenant_id,
            n=limit + 1,
            tenant_id=tenant_id,
            after=after,
            since=dt_to_doc(since) if since is not None else "",
        )
        return page_of(docs, limit, ("seq",), AuditEntry.from_doc)

    @remote
    async def list_audit_between(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        where = ["c.at >= @start", "c.at < @end"]
        params: dict[str, Any] = {"n": limit + 1, "start": dt_to_doc(start), "end": dt_to_doc(end)}
        if continuation:
            at, tenant_id, seq = decode_cursor(continuation, 3)
            condition, marks = keyset_after(
                ("c.at", "c.tenant_id", "c.seq"), (str(at), str(tenant_id), int(seq)), "@"
            )
            where.append(condition)
            params |= marks
        query = (
            f"SELECT TOP @n * FROM c WHERE {' AND '.join(where)} ORDER BY c.at, c.tenant_id, c.seq"
        )
        docs = await self._db.query("audit", query, None, **params)
        return page_of(docs, limit, ("at", "tenant_id", "seq"), AuditEntry.from_doc)

    @remote
    async def list_audit_tenants(self) -> list[str]:
        # A skip scan, one indexed TOP 1 query per tenant: each jumps past the tenant before,
        # so the cost grows with the tenants, not with their entries.
        tenants: list[str] = []
        while True:
            found = await self._db.query(
                "audit",
                "SELECT TOP 1 VALUE c.tenant_id FROM c WHERE c.tenant_id > @after "
                "ORDER BY c.tenant_id",
                None,
                after=tenants[-1] if tenants else "",
            )
            if not found:
                return tenants
            tenants.append(str(found[0]))
