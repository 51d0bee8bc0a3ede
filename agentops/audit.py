"""The audit trail: append-only and hash-chained per tenant, so that tampering shows.

Each entry's hash covers its content and the previous entry's hash; the store refuses a second
entry at the same position, so concurrent writers retry on the new head instead of forking the
chain. `verify` walks a chain and names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from agentops.auth import Principal
from agentops.store.errors import AuditConflictError
from agentops.store.ports import AuditStore
from agentops.store.records import AuditEntry

logger = logging.getLogger(__name__)

_MAX_RACES = 20


def entry_hash(entry: AuditEntry) -> str:
    content = {
        "id": entry.id,
        "tenant_id": entry.tenant_id,
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(),
        "principal": entry.principal,
        "action": entry.action,
        "resource": entry.resource,
        "outcome": entry.outcome,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditTrail:
    def __init__(self, store: AuditStore) -> None:
        self._store = store

    async def record(
        self,
        principal: Principal,
        *,
        action: str,
        resource: str,
        outcome: str,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        entry_id = uuid.uuid4().hex
        for _ in range(_MAX_RACES):
            head = await self._store.last_audit(principal.tenant)
            entry = AuditEntry(
                id=entry_id,
                tenant_id=principal.tenant,
                seq=0 if head is None else head.seq + 1,
                at=datetime.now(UTC),
                principal=principal.id,
                action=action,
                resource=resource,
                outcome=outcome,
                details=details or {},
                prev_hash=None if head is None else head.hash,
            )
            entry = replace(entry, hash=entry_hash(entry))
            try:
                await self._store.append_audit(entry)
            except AuditConflictError:
                continue  # another writer took this position: chain onto the new head
            return entry
        raise AuditConflictError(principal.tenant, -1)

    async def verify(self, tenant_id: str) -> int | None:
        """The seq of the first entry whose chain does not hold, or None if it all holds."""
        previous: str | None = None
        expected_seq = 0
        continuation: str | None = None
        while True:
            page = await self._store.list_audit(tenant_id, limit=500, continuation=continuation)
            for entry in page.items:
                if (
                    entry.seq != expected_seq
                    or entry.prev_hash != previous
                    or entry.hash != entry_hash(entry)
                ):
                    return entry.seq
                previous = entry.hash
                expected_seq += 1
            continuation = page.continuation
            if continuation is None:
                return None
