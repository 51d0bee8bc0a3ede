"""The port of runs and their items: both live in partition `run_id`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from agentops.store.records import (
    CacheEntry,
    Item,
    ItemError,
    ItemOutcome,
    ItemTotals,
    Page,
    Run,
    RunStats,
)


class RunStore(Protocol):
    # -- runs (partition: run_id) ----------------------------------------------------------
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
        self,
        tenant_id: str | None,
        *,
        limit: int = 50,
        continuation: str | None = None,
        agent: str | None = None,
        status: str | None = None,
    ) -> Page[Run]:
        """Newest first, optionally only one agent's or one stored status's runs.
        Cross-partition: for listings, not for the request path of one run."""
        ...

    # -- items (partition: run_id; id: index) ----------------------------------------------
    async def add_items(self, run_id: str, queries: Sequence[str]) -> int:
        """Store queries as items 0..n-1, pending. Idempotent: returns how many were new."""
        ...

    async def get_items(self, run_id: str, indexes: Iterable[int]) -> list[Item]:
        """The items that exist among `indexes`, ordered by index."""
        ...

    async def complete_item(
        self,
        run_id: str,
        index: int,
        outcome: ItemOutcome,
        cache_entry: CacheEntry | None = None,
    ) -> bool:
        """Move a pending item to its outcome. True only for the call that moved it.

        A re-executed activity gets False and must not bill the item again.
        Raises KeyError if the item does not exist.
        `cache_entry`, the response cache entry of the item's answer, is written with the
        outcome: in the same transaction where the store has one across both (SQLite), after
        the outcome otherwise (Cosmos DB), so a crash can lose the entry but never the bill.
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

    async def item_stats(self, run_id: str) -> RunStats:
        """Latency percentiles, retries and spend by model of one run's items, from one
        single-partition read of a few fields per item (`agentops.store.run_stats`)."""
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

    async def list_completed_items(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        continuation: str | None = None,
    ) -> Page[Item]:
        """Items that reached a terminal state in [start, end), across runs, in completion
        order. Cross-partition: for the cost report, not for the request path."""
        ...
