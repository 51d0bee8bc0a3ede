"""The audit writer: a request only queues; the background task appends in order, in batches,
and nothing is lost when the queue is full, the store fails or the process shuts down."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agentops.audit import AuditEvent, AuditTrail
from agentops.audit_writer import AuditWriter
from agentops.bootstrap import build_services
from agentops.settings import Settings
from agentops.store.errors import StoreUnavailableError
from agentops.store.records import AuditEntry, Page
from agentops.store.sqlite import SqliteStore


def event(n: int, tenant: str = "contoso") -> AuditEvent:
    return AuditEvent(tenant, "ada", "run.read", f"runs/{n}", "allowed", {"status": 200})


class CountingStore:
    """The SQLite store, counting calls; `fail_appends` makes the next appends fail."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.head_reads = 0
        self.appends = 0
        self.fail_appends = 0

    async def last_audit(self, tenant_id: str) -> AuditEntry | None:
        self.head_reads += 1
        return await self._store.last_audit(tenant_id)

    async def append_audit(self, entry: AuditEntry) -> bool:
        if self.fail_appends:
            self.fail_appends -= 1
            raise StoreUnavailableError("the store is down")
        self.appends += 1
        return await self._store.append_audit(entry)

    async def list_audit(self, tenant_id: str, **kwargs: Any) -> Page[AuditEntry]:
        return await self._store.list_audit(tenant_id, **kwargs)


async def resources(store: SqliteStore, tenant: str = "contoso") -> list[str]:
    return [e.resource for e in (await store.list_audit(tenant, limit=1000)).items]


async def test_submitting_touches_no_store_and_shutdown_writes_everything(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "a.db") as sqlite:
        store = CountingStore(sqlite)
        writer = AuditWriter(AuditTrail(store))
        for n in range(50):
            await writer.submit(event(n))
        assert (store.head_reads, store.appends) == (0, 0)  # the request path paid the queueing
        await writer.aclose()
        assert writer.queued == 0
        assert await resources(sqlite) == [f"runs/{n}" for n in range(50)]


async def test_a_batch_reads_each_chain_head_once(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "a.db") as sqlite:
        store = CountingStore(sqlite)
        writer = AuditWriter(AuditTrail(store), batch_size=100)
        for n in range(30):
            await writer.submit(event(n, "contoso" if n % 3 else "fabrikam"))
        await writer.aclose()
        assert store.head_reads == 2 and store.appends == 30
        assert (await AuditTrail(sqlite).verify("contoso")).entries == 20
        assert (await AuditTrail(sqlite).verify("fabrikam")).entries == 10


async def test_a_full_queue_makes_the_request_write_the_backlog_in_order(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "a.db") as sqlite:
        store = CountingStore(sqlite)
        gate = asyncio.Event()
        append = store.append_audit

        async def slow_append(entry: AuditEntry) -> bool:
            await gate.wait()  # the store is slow: the background task is stuck on entry 0
            return await append(entry)

        store.append_audit = slow_append  # type: ignore[method-assign]
        writer = AuditWriter(AuditTrail(store), max_queued=2, batch_size=1, room_wait_s=0.01)
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, gate.set)
        for n in range(4):
            await writer.submit(event(n))
        # Entry 3 found the queue full past the wait: its request wrote 1, 2 and 3 itself.
        assert writer.written_inline == 3 and writer.queued == 0
        await writer.aclose()
        assert await resources(sqlite) == [f"runs/{n}" for n in range(4)]


async def test_a_store_failure_keeps_the_entries_and_their_order(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "a.db") as sqlite:
        store = CountingStore(sqlite)
        writer = AuditWriter(AuditTrail(store), batch_size=10)
        store.fail_appends = 1
        for n in range(5):
            await writer.submit(event(n))
        with pytest.raises(StoreUnavailableError):
            await writer.flush()  # the first append fails: nothing written, all kept
        assert writer.queued == 5
        await writer.aclose()
        assert await resources(sqlite) == [f"runs/{n}" for n in range(5)]
        assert (await AuditTrail(sqlite).verify("contoso")).ok


async def test_the_background_task_retries_after_a_store_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SqliteStore(tmp_path / "a.db") as sqlite:
        store = CountingStore(sqlite)
        writer = AuditWriter(AuditTrail(store), retry_base_s=0.01)
        store.fail_appends = 2
        for n in range(5):
            await writer.submit(event(n))
        for _ in range(200):
            if writer.written == 5:
                break
            await asyncio.sleep(0.01)
        assert writer.written == 5 and writer.queued == 0  # written without a flush
        assert "entries not written yet" in caplog.text
        await writer.aclose()
        assert await resources(sqlite) == [f"runs/{n}" for n in range(5)]


async def test_a_failure_half_way_through_a_chain_writes_no_entry_twice(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "a.db") as sqlite:
        store = CountingStore(sqlite)
        writer = AuditWriter(AuditTrail(store), batch_size=10)
        append = store.append_audit
        failed: list[int] = []

        async def fails_once_at_the_third(entry: AuditEntry) -> bool:
            if entry.seq == 2 and not failed:
                failed.append(entry.seq)
                raise StoreUnavailableError("the store is down")
            return await append(entry)

        store.append_audit = fails_once_at_the_third  # type: ignore[method-assign]
        for n in range(5):
            await writer.submit(event(n))
        with pytest.raises(StoreUnavailableError):
            await writer.flush()
        assert writer.queued == 3
        await writer.aclose()
        assert await resources(sqlite) == [f"runs/{n}" for n in range(5)]


async def test_services_aclose_writes_the_queued_entries(tmp_path: Path) -> None:
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "agentops.db")
    services = build_services(settings)
    for n in range(3):
        await services.audit.submit(event(n))
    await services.aclose()
    async with SqliteStore(tmp_path / "agentops.db") as sqlite:
        assert await resources(sqlite) == ["runs/0", "runs/1", "runs/2"]


async def test_a_closed_writer_refuses_entries(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "a.db") as sqlite:
        writer = AuditWriter(AuditTrail(sqlite))
        await writer.aclose()
        with pytest.raises(RuntimeError):
            await writer.submit(event(0))
