"""The repository port: what the app asks of its state store, whatever holds it.

Every operation names its partition key (run_id, thread_id, key, scope or tenant_id), so that
no adapter needs a cross-partition query except `list_runs` (admin only) and the backup scans.
Implementations: `SqliteStore` (local default) and `CosmosStore` (Azure). One contract test
suite runs against both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol, Self

from agentops.store.records import (
    AuditEntry,
    Item,
    ItemCounts,
    ItemError,
    ItemOutcome,
    ItemTotals,
    Message,
    Page,
    Run,
    Thread,
    ThreadOwner,
    Usage,
)


class Store(Protocol):
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    # -- runs (partition: run_id) --------------------------------------------------------
    async def create_run(self, run: Run) -> bool:
        """Store a new run. False (and nothing changed) if a run with this id exists."""
        ...

    async def get_run(self, run_id: str) -> Run | None: ...

    async def update_run(self, run_id: str, **changes: Any) -> Run:
        """Change status, counts, usage, cost, finished_at, instance_id or options.

        Raises KeyError for a missing run, ValueError for a field that cannot change.
        """
        ...

    async def list_runs(
        self, tenant_id: str | None, *, limit: int = 50, continuation: str | None = None
    ) -> Page[Run]:
        """Newest first. Cross-partition: for admin views, not for the request path."""
        ...

    # -- items (partition: run_id; id: index) ----------------------------------------------
    async def add_items(self, run_id: str, queries: Sequence[str]) -> int:
        """Store queries as items 0..n-1, pending. Idempotent: returns how many were new."""
        ...

    async def get_items(self, run_id: str, indexes: Iterable[int]) -> list[Item]:
        """The items that exist among `indexes`, ordered by index."""
        ...

    async def complete_item(self, run_id: str, index: int, outcome: ItemOutcome) -> bool:
        """Move a pending item to its outcome. True only for the call that moved it.

        A re-executed activity gets False and must not bill the item again.
        Raises KeyError if the item does not exist.
        """
        ...

    async def record_attempt(self, run_id: str, index: int, error: ItemError) -> int:
        """Count a failed attempt on a pending item; returns its attempts. Terminal: unchanged."""
        ...

    async def list_items(
        self, run_id: str, *, after_index: int | None = None, limit: int = 100
    ) -> tuple[list[Item], int | None]:
        """A page ordered by index, and the `after_index` of the next page (None at the end)."""
        ...

    async def item_totals(self, run_id: str) -> ItemTotals:
        """Counts by status, usage and cost of one run's items, in one aggregate."""
        ...

    async def swap_item_text(
        self, run_id: str, index: int, field: str, expected: str, new: str
    ) -> bool:
        """Replace the item's `field` ("query" or "answer") if it still holds `expected`.

        False (and nothing changed) if it does not: another writer got there first. For
        re-encryption, which must never overwrite an item completed meanwhile.
        Raises KeyError if the item does not exist.
        """
        ...

    async def count_items(self, run_id: str) -> ItemCounts: ...

    async def sum_usage(self, run_id: str) -> tuple[Usage, float]: ...

    # -- threads (partition: thread_id) ----------------------------------------------------
    async def get_thread(self, thread_id: str) -> Thread | None: ...

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
        """Append and keep the last `max_messages`. Concurrent appends both land.

        A new thread belongs to `owner` (tenant, user and agent); PermissionError if the thread
        has another owner. `encrypted` marks the thread as holding sealed texts (it stays marked).
        With `expected_version` (0 for a new thread), raises ConcurrencyError if the thread
        moved on since the caller read it.
        """
        ...

    async def replace_message_texts(
        self, thread_id: str, texts: Sequence[str], *, expected_version: int
    ) -> Thread:
        """Give the thread's messages new texts (re-encryption), in order, and mark it encrypted.

        ConcurrencyError if the thread is no longer at `expected_version`; KeyError if missing.
        """
        ...

    # -- cache (partition: key) ------------------------------------------------------------
    async def cache_get(self, key: str) -> dict[str, Any] | None: ...

    async def cache_put(self, key: str, value: dict[str, Any], ttl_s: int) -> None: ...

    # -- usage counters (partition: scope; id: UTC day) ------------------------------------
    async def add_usage(self, scope: str, day: date, tokens: int, cost: float) -> tuple[int, float]:
        """Add atomically; returns the day's totals after the addition."""
        ...

    async def get_usage(self, scope: str, day: date) -> tuple[int, float]: ...

    # -- audit (partition: tenant_id) ------------------------------------------------------
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

    # -- backup ----------------------------------------------------------------------------
    def iter_collection(self, name: str) -> AsyncIterator[dict[str, Any]]:
        """Every document of a collection, as stored (no system properties)."""
        ...

    async def restore_documents(self, name: str, docs: Iterable[dict[str, Any]]) -> int:
        """Upsert documents from `iter_collection` output; returns how many."""
        ...
