"""The audit chain: linear under concurrent writers, and `verify` names what was tampered with."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

from agentops.audit import AuditEvent, AuditTrail, audit_tenants, entry_hash
from agentops.audit_writer import AuditWriter
from agentops.store.errors import AuditConflictError
from agentops.store.records import AuditEntry, Page
from agentops.store.sqlite import SqliteStore


def event(n: int, tenant: str = "contoso") -> AuditEvent:
    return AuditEvent(tenant, "ada", "run.read", f"runs/{n}", "allowed", {"status": 200})


async def write_chain(path: Path, count: int, tenant: str = "contoso") -> None:
    async with SqliteStore(path) as store:
        await AuditTrail(store).append(tenant, [event(n, tenant) for n in range(count)])


def tamper(path: Path, seq: int, **changes: Any) -> None:
    with sqlite3.connect(path) as connection:  # behind the store's back
        (doc,) = connection.execute("SELECT doc FROM audit WHERE seq = ?", (seq,)).fetchone()
        changed = {**json.loads(doc), **changes}
        connection.execute("UPDATE audit SET doc = ? WHERE seq = ?", (json.dumps(changed), seq))


async def verify(path: Path, tenant: str = "contoso") -> Any:
    async with SqliteStore(path) as store:
        return await AuditTrail(store).verify(tenant)


async def test_one_batch_is_one_linear_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_chain(path, 5)
    check = await verify(path)
    assert check.ok and check.entries == 5
    async with SqliteStore(path) as store:
        entries = (await store.list_audit("contoso")).items
    assert [e.seq for e in entries] == list(range(5))
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(entries))


async def test_a_changed_entry_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_chain(path, 5)
    tamper(path, 2, outcome="refused")
    check = await verify(path)
    assert (check.problem, check.broken_seq, check.entries) == ("changed", 2, 2)
    assert check.broken_id is not None and check.broken_id in check.describe()


async def test_a_changed_entry_whose_hash_was_recomputed_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_chain(path, 5)
    async with SqliteStore(path) as store:
        original = (await store.list_audit("contoso")).items[1]
    forged = AuditEntry(**{**_fields(original), "principal": "mallory", "hash": None})
    tamper(path, 1, principal="mallory", hash=entry_hash(forged))
    check = await verify(path)
    assert (check.problem, check.broken_seq, check.broken_id) == ("changed", 1, original.id)


async def test_a_removed_entry_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_chain(path, 5)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM audit WHERE seq = 3")
    check = await verify(path)
    assert (check.problem, check.broken_seq, check.entries) == ("removed", 3, 3)


async def test_the_first_entry_removed_is_named(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_chain(path, 2)
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM audit WHERE seq = 0")
    assert (await verify(path)).broken_seq == 0


class RacingStore:
    """A second process's view of the same file; both writers read the head before either
    appends, so the race on the first position is certain."""

    def __init__(self, store: SqliteStore, barrier: asyncio.Barrier) -> None:
        self._store = store
        self._barrier = barrier
        self.conflicts = 0
        self._raced = False

    async def last_audit(self, tenant_id: str) -> AuditEntry | None:
        head = await self._store.last_audit(tenant_id)
        if not self._raced:
            self._raced = True
            await self._barrier.wait()
        return head

    async def append_audit(self, entry: AuditEntry) -> bool:
        try:
            return await self._store.append_audit(entry)
        except AuditConflictError:
            self.conflicts += 1
            raise

    async def list_audit(self, tenant_id: str, **kwargs: Any) -> Page[AuditEntry]:
        return await self._store.list_audit(tenant_id, **kwargs)


async def test_two_writers_on_one_chain_keep_it_linear(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    barrier = asyncio.Barrier(2)
    async with SqliteStore(path) as first, SqliteStore(path) as second:
        stores = [RacingStore(first, barrier), RacingStore(second, barrier)]
        writers = [AuditWriter(AuditTrail(store), batch_size=7) for store in stores]
        for n in range(60):
            await writers[n % 2].submit(event(n))
        await asyncio.gather(*(writer.aclose() for writer in writers))
        assert sum(store.conflicts for store in stores) >= 1  # the retry path was taken
        entries = (await first.list_audit("contoso", limit=100)).items
        check = await AuditTrail(first).verify("contoso")
    assert check.ok and check.entries == 60
    assert [e.seq for e in entries] == list(range(60))
    assert sorted(e.resource for e in entries) == sorted(f"runs/{n}" for n in range(60))
    # Each writer's own entries keep the order they were submitted in.
    for parity in (0, 1):
        mine = [int(e.resource.split("/")[1]) for e in entries if int(e.resource[5:]) % 2 == parity]
        assert mine == sorted(mine)


async def test_an_append_retried_after_it_was_stored_is_not_stored_twice(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    async with SqliteStore(path) as store:
        trail = AuditTrail(store)
        first = event(1)
        await trail.append("contoso", [first])
        await trail.append("contoso", [first, event(2)])  # the first came back as failed
        entries = (await store.list_audit("contoso")).items
    assert [e.id for e in entries] == [first.id, entries[1].id] and len(entries) == 2


async def test_tenants_with_a_chain_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    await write_chain(path, 2, "contoso")
    await write_chain(path, 1, "fabrikam")
    async with SqliteStore(path) as store:
        assert await audit_tenants(store.iter_collection("audit")) == ["contoso", "fabrikam"]


def _fields(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__slots__}  # type: ignore[attr-defined]
