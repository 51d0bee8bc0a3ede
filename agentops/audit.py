"""The audit trail: append-only and hash-chained per tenant, so that tampering shows.

Each entry's hash covers its content and the previous entry's hash; the store refuses a second
entry at the same position, so concurrent writers (several worker processes) retry on the new
head instead of forking the chain. `verify` walks a chain and names the first entry that was
changed or removed.

Accesses made before anyone is identified (an unreadable principal, say) go to one fixed chain,
`UNAUTHENTICATED_TENANT`, never to a tenant the caller claimed; the edge refuses a principal
whose tenant carries that name, so no real tenant's entries land there either.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from agentops.store.errors import AuditConflictError
from agentops.store.ports import AuditStore
from agentops.store.records import AuditEntry

logger = logging.getLogger(__name__)

UNAUTHENTICATED_TENANT = "unauthenticated"
_MAX_RACES = 20
_VERIFY_PAGE = 500


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


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One access, as the request path hands it over: everything but its place in the chain.

    `details` holds the request's context (status, client IP, request and session ids) and small
    facts about the resource; never query text, bodies or keys.
    """

    tenant: str
    principal: str
    action: str
    resource: str
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Fixed when the access happens, so a retried append is recognised as the same entry.
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def entry_after(self, head: AuditEntry | None) -> AuditEntry:
        entry = AuditEntry(
            id=self.id,
            tenant_id=self.tenant,
            seq=0 if head is None else head.seq + 1,
            at=self.at,
            principal=self.principal,
            action=self.action,
            resource=self.resource,
            outcome=self.outcome,
            details=self.details,
            prev_hash=None if head is None else head.hash,
        )
        return replace(entry, hash=entry_hash(entry))


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The result of walking one tenant's chain."""

    tenant: str
    entries: int
    # The first entry that does not hold: its position and id (None when the entry is gone).
    broken_seq: int | None = None
    broken_id: str | None = None
    problem: Literal["changed", "removed"] | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        if self.ok:
            return f"{self.tenant}: {self.entries} entries, OK"
        if self.problem == "removed":
            return f"{self.tenant}: entry seq {self.broken_seq} was removed"
        return f"{self.tenant}: entry seq {self.broken_seq} (id {self.broken_id}) was changed"


class AuditTrail:
    """Appends to and checks the per-tenant chains."""

    def __init__(self, store: AuditStore) -> None:
        self._store = store

    async def append(
        self,
        tenant: str,
        events: Sequence[AuditEvent],
        *,
        written: list[AuditEntry] | None = None,
    ) -> list[AuditEntry]:
        """Chain `events` (all of `tenant`, in order) onto the tenant's head: one head read for
        the lot, and another only when a concurrent writer took a position first.

        Entries are added to `written` as they are stored, so a caller whose append failed half
        way knows which events to try again.
        """
        written = [] if written is None else written
        head = await self._store.last_audit(tenant)
        races = 0
        for event in events:
            if event.tenant != tenant:
                raise ValueError(f"event of tenant {event.tenant!r} in a batch for {tenant!r}")
            while True:
                if head is not None and head.id == event.id:
                    written.append(head)  # stored by an attempt that reported a failure
                    break
                entry = event.entry_after(head)
                try:
                    stored = await self._store.append_audit(entry)
                except AuditConflictError:
                    races += 1
                    if races > _MAX_RACES * max(1, len(events)):
                        raise
                    head = await self._store.last_audit(tenant)
                    continue  # another writer took this position: chain onto the new head
                if not stored:  # this very entry is already there (an append retried)
                    head = await self._store.last_audit(tenant)
                else:
                    head = entry
                written.append(entry)
                break
        return written

    async def verify(self, tenant: str) -> ChainCheck:
        """Walk the chain from seq 0; name the first entry that was changed or removed.

        A removed entry shows as a gap in the positions. A changed entry shows as a hash that
        does not match its content, or, when its hash was recomputed, as a successor whose
        `prev_hash` no longer matches it. What the walk cannot see: entries removed from the
        end of a chain, and a chain rewritten whole from the change onwards (that needs the
        head's hash kept somewhere else).
        """
        previous: AuditEntry | None = None
        count = 0
        continuation: str | None = None
        while True:
            page = await self._store.list_audit(
                tenant, limit=_VERIFY_PAGE, continuation=continuation
            )
            for entry in page.items:
                expected = 0 if previous is None else previous.seq + 1
                if entry.seq != expected:
                    return ChainCheck(tenant, count, expected, None, "removed")
                own_hash_holds = entry.hash == entry_hash(entry)
                link_holds = entry.prev_hash == (None if previous is None else previous.hash)
                if not link_holds and own_hash_holds and previous is not None:
                    # The successor is intact, so the entry it points back to was rewritten.
                    return ChainCheck(tenant, count, previous.seq, previous.id, "changed")
                if not (link_holds and own_hash_holds):
                    return ChainCheck(tenant, count, entry.seq, entry.id, "changed")
                previous = entry
                count += 1
            continuation = page.continuation
            if continuation is None:
                return ChainCheck(tenant, count)


async def audit_tenants(documents: AsyncIterator[dict[str, Any]]) -> list[str]:
    """The tenants that have a chain, from a scan of the audit collection's documents.

    The store has no cheaper way to list chains; a scan is acceptable for an operator's check.
    """
    tenants: set[str] = set()
    async for doc in documents:
        tenant = doc.get("tenant_id")
        if isinstance(tenant, str):
            tenants.add(tenant)
    return sorted(tenants)
