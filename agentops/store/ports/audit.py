"""The port of the audit trail: one append-only chain per tenant, partition `tenant_id`."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from agentops.store.records import AuditEntry, Page


class AuditStore(Protocol):
    async def append_audit(self, entry: AuditEntry) -> bool:
        """Append at `entry.seq`. False if this very entry is already there (a retry).

        Raises AuditConflictError if another entry holds that position.
        """
        ...

    async def last_audit(self, tenant_id: str) -> AuditEntry | None: ...

    async def list_audit(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        limit: int = 100,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        """In chain order (seq ascending), entries at or after `since`."""
        ...

    async def list_audit_between(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        """Every tenant's entries made in [start, end), in time order. Cross-partition: for
        the compliance report."""
        ...

    async def list_audit_tenants(self) -> list[str]:
        """The tenants that have an audit chain, sorted."""
        ...
