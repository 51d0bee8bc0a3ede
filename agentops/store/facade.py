"""The whole store as one object: what the composition root opens, passes on and closes.

`SqliteStore` and `CosmosStore` are this facade over their own per-port parts and connection.
Every call is checked here, once for both adapters, before it reaches a part, so both refuse the
same bad input before any I/O; the parts then only do I/O. Consumers keep calling the port's
methods on whatever they were given (the facade or any object with that port's methods), which
is why the facade delegates rather than making callers reach for `store.runs` first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from agentops.store.checks import (
    check_amounts,
    check_index,
    check_key,
    check_limit,
    check_messages,
    check_owner,
    check_period,
    check_queries,
    check_text_field,
    check_texts,
    check_ttl,
    day_id,
)
from agentops.store.containers import check_collection
from agentops.store.ports import (
    AuditStore,
    CacheStore,
    CollectionStore,
    ReportStore,
    RunStore,
    ThreadStore,
    UsageStore,
)
from agentops.store.records import (
    AuditEntry,
    CacheEntry,
    Item,
    ItemError,
    ItemOutcome,
    ItemTotals,
    Message,
    Page,
    ReportRecord,
    Run,
    RunStats,
    RunStatus,
    Thread,
    ThreadOwner,
)


class Connection(Protocol):
    """What the parts of one adapter share: opened on entry, closed once with the store."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoreParts:
    """One adapter's implementation of each port, over one shared connection.

    Parts take checked arguments (see the facade); `messages` and `texts` arrive as tuples.
    """

    connection: Connection
    runs: RunStore
    threads: ThreadStore
    usage: UsageStore
    cache: CacheStore
    audit: AuditStore
    collections: CollectionStore
    reports: ReportStore


class StoreFacade:
    def __init__(self, parts: StoreParts) -> None:
        self._parts = parts
        self._runs = parts.runs
        self._threads = parts.threads
        self._usage = parts.usage
        self._cache = parts.cache
        self._audit = parts.audit
        self._collections = parts.collections
        self._reports = parts.reports

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self._parts.connection.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._parts.connection.close()

    # -- runs ------------------------------------------------------------------------------
    async def create_run(self, run: Run) -> bool:
        check_key("run_id", run.run_id)
        check_key("tenant_id", run.tenant_id)
        return await self._runs.create_run(run)

    async def get_run(self, run_id: str) -> Run | None:
        return await self._runs.get_run(check_key("run_id", run_id))

    async def update_run(self, run_id: str, **changes: Any) -> Run:
        return await self._runs.update_run(check_key("run_id", run_id), **changes)

    async def list_runs(
        self,
        tenant_id: str | None,
        *,
        limit: int = 50,
        continuation: str | None = None,
        agent: str | None = None,
        status: str | None = None,
    ) -> Page[Run]:
        if tenant_id is not None:
            check_key("tenant_id", tenant_id)
        if agent is not None:
            check_key("agent", agent)
        if status is not None:
            status = str(RunStatus(status))  # ValueError for a status runs never have
        check_limit(limit)
        return await self._runs.list_runs(
            tenant_id, limit=limit, continuation=continuation, agent=agent, status=status
        )

    # -- items -----------------------------------------------------------------------------
    async def add_items(self, run_id: str, queries: Sequence[str]) -> int:
        check_key("run_id", run_id)
        return await self._runs.add_items(run_id, check_queries(queries))

    async def get_items(self, run_id: str, indexes: Iterable[int]) -> list[Item]:
        check_key("run_id", run_id)
        wanted = sorted({check_index(i) for i in indexes})
        return await self._runs.get_items(run_id, wanted) if wanted else []

    async def complete_item(
        self,
        run_id: str,
        index: int,
        outcome: ItemOutcome,
        cache_entry: CacheEntry | None = None,
    ) -> bool:
        check_key("run_id", run_id)
        check_index(index)
        if not isinstance(outcome, ItemOutcome):
            raise TypeError("outcome must be an ItemOutcome")
        if cache_entry is not None:
            _check_cache_entry(cache_entry)
        return await self._runs.complete_item(run_id, index, outcome, cache_entry)

    async def record_attempt(self, run_id: str, index: int, error: ItemError) -> int:
        check_key("run_id", run_id)
        check_index(index)
        if not isinstance(error, ItemError):
            raise TypeError("error must be an ItemError")
        return await self._runs.record_attempt(run_id, index, error)

    async def list_items(
        self, run_id: str, *, after_index: int | None = None, limit: int = 100
    ) -> tuple[list[Item], int | None]:
        check_key("run_id", run_id)
        check_limit(limit)
        if after_index is not None:
            check_index(after_index)
        return await self._runs.list_items(run_id, after_index=after_index, limit=limit)

    async def item_totals(self, run_id: str) -> ItemTotals:
        return await self._runs.item_totals(check_key("run_id", run_id))

    async def item_stats(self, run_id: str) -> RunStats:
        return await self._runs.item_stats(check_key("run_id", run_id))

    async def swap_item_text(
        self, run_id: str, index: int, field: str, expected: str, new: str
    ) -> bool:
        check_key("run_id", run_id)
        check_index(index)
        check_text_field(field, expected, new)
        return await self._runs.swap_item_text(run_id, index, field, expected, new)

    async def list_completed_items(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        continuation: str | None = None,
    ) -> Page[Item]:
        start, end = check_period(start, end)
        check_limit(limit)
        return await self._runs.list_completed_items(
            start, end, limit=limit, continuation=continuation
        )

    # -- threads ---------------------------------------------------------------------------
    async def get_thread(self, thread_id: str) -> Thread | None:
        return await self._threads.get_thread(check_key("thread_id", thread_id))

    async def append_messages(
        self,
        thread_id: str,
        owner: ThreadOwner,
        messages: Sequence[Message],
        max_messages: int,
        *,
        encrypted: bool = False,
        expected_version: int | None = None,
    ) -> Thread:
        check_key("thread_id", thread_id)
        check_owner(owner)
        new = check_messages(messages, max_messages)
        return await self._threads.append_messages(
            thread_id,
            owner,
            new,
            max_messages,
            encrypted=encrypted,
            expected_version=expected_version,
        )

    async def replace_message_texts(
        self, thread_id: str, texts: Sequence[str], *, expected_version: int
    ) -> Thread:
        check_key("thread_id", thread_id)
        return await self._threads.replace_message_texts(
            thread_id, check_texts(texts), expected_version=expected_version
        )

    # -- cache -----------------------------------------------------------------------------
    async def cache_get(self, key: str) -> dict[str, Any] | None:
        return await self._cache.cache_get(check_key("cache key", key))

    async def cache_get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(check_key("cache key", key) for key in keys))
        return await self._cache.cache_get_many(wanted) if wanted else {}

    async def cache_put(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        _check_cache_entry(CacheEntry(key, value, ttl_s))
        await self._cache.cache_put(key, value, ttl_s)

    # -- usage counters --------------------------------------------------------------------
    async def add_usage(self, scope: str, day: date, tokens: int, cost: float) -> tuple[int, float]:
        check_key("scope", scope)
        check_amounts(tokens, cost)
        day_id(day)
        return await self._usage.add_usage(scope, day, tokens, float(cost))

    async def get_usage(self, scope: str, day: date) -> tuple[int, float]:
        check_key("scope", scope)
        day_id(day)
        return await self._usage.get_usage(scope, day)

    # -- audit -----------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> bool:
        check_key("tenant_id", entry.tenant_id)
        check_key("audit entry id", entry.id)
        return await self._audit.append_audit(entry)

    async def last_audit(self, tenant_id: str) -> AuditEntry | None:
        return await self._audit.last_audit(check_key("tenant_id", tenant_id))

    async def list_audit(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        limit: int = 100,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        check_key("tenant_id", tenant_id)
        check_limit(limit)
        return await self._audit.list_audit(
            tenant_id, since=since, limit=limit, continuation=continuation
        )

    async def list_audit_between(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        start, end = check_period(start, end)
        check_limit(limit)
        return await self._audit.list_audit_between(
            start, end, limit=limit, continuation=continuation
        )

    async def list_audit_tenants(self) -> list[str]:
        return await self._audit.list_audit_tenants()

    # -- reports ---------------------------------------------------------------------------
    async def put_report(self, report: ReportRecord) -> None:
        if not isinstance(report, ReportRecord):
            raise TypeError("report must be a ReportRecord")
        check_key("report id", report.id)
        check_key("report kind", report.kind)
        check_period(report.period_start, report.period_end)
        await self._reports.put_report(report)

    async def get_report(self, report_id: str) -> ReportRecord | None:
        return await self._reports.get_report(check_key("report id", report_id))

    async def list_reports(
        self, kind: str | None, *, limit: int = 50, continuation: str | None = None
    ) -> Page[ReportRecord]:
        if kind is not None:
            check_key("report kind", kind)
        check_limit(limit)
        return await self._reports.list_reports(kind, limit=limit, continuation=continuation)

    # -- collections (backup and restore) --------------------------------------------------
    async def collection_ranges(
        self, name: str, *, since: datetime | None = None, target_docs: int
    ) -> list[dict[str, Any]]:
        check_collection(name)
        _check_since(since)
        return await self._collections.collection_ranges(name, since=since, target_docs=target_docs)

    async def iter_collection(
        self,
        name: str,
        *,
        since: datetime | None = None,
        key_range: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        check_collection(name)
        _check_since(since)
        if key_range is not None and not isinstance(key_range, dict):
            raise ValueError("a key range is a JSON object from collection_ranges")
        async for doc in self._collections.iter_collection(name, since=since, key_range=key_range):
            yield doc

    async def restore_documents(self, name: str, docs: Iterable[dict[str, Any]]) -> int:
        return await self._collections.restore_documents(check_collection(name), docs)


def _check_since(since: datetime | None) -> None:
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be timezone-aware")


def _check_cache_entry(entry: CacheEntry) -> None:
    check_key("cache key", entry.key)
    check_ttl(entry.ttl_s)
    if not isinstance(entry.value, dict):
        raise TypeError("cache value must be a dict")
