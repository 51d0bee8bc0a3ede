"""The store contract for the audit trail.

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agentops.store import (
    AuditConflictError,
)
from tests.agentops.store.samples import T0, audit


async def test_audit_is_ordered_and_exposes_the_chain_head(store):
    assert await store.last_audit("acme") is None
    for seq in (0, 1, 2, 3, 4):
        assert await store.append_audit(audit(seq)) is True
    await store.append_audit(audit(0, tenant="globex"))
    assert await store.last_audit("acme") == audit(4)
    seen, token = [], None
    while True:
        page = await store.list_audit("acme", limit=2, continuation=token)
        seen += page.items
        token = page.continuation
        if token is None:
            break
    assert seen == [audit(seq) for seq in range(5)]
    recent = await store.list_audit("acme", since=T0 + timedelta(seconds=3))
    assert [e.seq for e in recent.items] == [3, 4]


async def test_audit_position_cannot_be_taken_twice(store):
    assert await store.append_audit(audit(0)) is True
    assert await store.append_audit(audit(0)) is False  # the same entry again: a retry
    with pytest.raises(AuditConflictError):
        await store.append_audit(audit(0, id="someone-else"))
    page = await store.list_audit("acme")
    assert page.items == [audit(0)]
