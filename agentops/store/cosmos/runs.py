"""Runs and their items in Cosmos DB.

- `runs`, partition `/run_id`, id = run_id. Point reads and replaces by run id on the request
  path (`GET /api/runs/{id}`, the orchestration's status updates). `list_runs` is the one
  cross-partition query (admin views; composite index tenant_id, created_at desc, id desc).
- `items`, partition `/run_id`, id = str(index). A run's items share one logical partition: bulk
  insert in transactional batches, point reads and conditional replaces per item (if-match etag:
  an item moves from pending to a terminal state once), pages ordered by index, and the counts,
  usage and cost of a run in one single-partition aggregate. The cost report's scan of the items
  completed in a period is cross-partition, its time range in the WHERE clause (composite index
  completed_at, run_id, index). Logical partitions hold 20 GB: a
  run of 10,000 items of 32 KB queries fits with room for the answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from azure.cosmos import exceptions

from agentops.store import changes
from agentops.store.checks import decode_cursor, keyset_after, page_of
from agentops.store.cosmos.cache import CosmosCacheStore
from agentops.store.cosmos.connection import MAX_CONCURRENCY, CosmosConnection, remote
from agentops.store.errors import StoreError
from agentops.store.records import (
    CacheEntry,
    Item,
    ItemCounts,
    ItemError,
    ItemOutcome,
    ItemTotals,
    Page,
    Run,
    RunStats,
    Usage,
    dt_to_doc,
)
from agentops.store.run_stats import StatsRow, fold_run_stats

logger = logging.getLogger(__name__)

_BATCH_SIZE = 100  # the service's limit of operations per transactional batch

_ITEM_TOTALS_QUERY = (
    "SELECT SUM(c.status = 'pending' ? 1 : 0) AS pending, "
    "SUM(c.status = 'completed' ? 1 : 0) AS completed, "
    "SUM(c.status = 'failed' ? 1 : 0) AS failed, "
    "SUM(c.usage.prompt_tokens) AS prompt_tokens, "
    "SUM(c.usage.completion_tokens) AS completion_tokens, "
    "SUM(c.cost) AS cost, "
    "SUM(c.cached ? 1 : 0) AS cached, "
    "SUM(c.saved_cost) AS saved_cost "
    "FROM c WHERE c.run_id = @run_id"
)

# A few fields per item, ordered by index so that costs add up in the same order as on SQLite.
_ITEM_STATS_QUERY = (
    "SELECT c.status, c.attempts, c.duration_ms, c.model, c.usage.prompt_tokens AS prompt, "
    "c.usage.completion_tokens AS completion, c.cost "
    "FROM c WHERE c.run_id = @run_id ORDER BY c.index"
)


class CosmosRunStore:
    def __init__(self, connection: CosmosConnection, cache: CosmosCacheStore) -> None:
        self._db = connection
        self._cache = cache

    @remote
    async def create_run(self, run: Run) -> bool:
        container = await self._db.container("runs")
        try:
            await container.create_item(run.to_doc())
        except exceptions.CosmosResourceExistsError:
            return False
        return True

    @remote
    async def get_run(self, run_id: str) -> Run | None:
        doc = await self._db.read("runs", run_id, run_id)
        return None if doc is None else Run.from_doc(doc)

    @remote
    async def update_run(self, run_id: str, **changes_: Any) -> Run:
        change = changes.run_update(run_id, changes_, self._db.now())
        return await self._db.modify("runs", run_id, run_id, change)

    @remote
    async def list_runs(
        self,
        tenant_id: str | None,
        *,
        limit: int = 50,
        continuation: str | None = None,
        agent: str | None = None,
        status: str | None = None,
    ) -> Page[Run]:
        where: list[str] = []
        params: dict[str, Any] = {"n": limit + 1}
        if tenant_id is not None:
            where.append("c.tenant_id = @tenant_id")
            params["tenant_id"] = tenant_id
        if agent is not None:
            where.append("c.agent = @agent")
            params["agent"] = agent
        if status is not None:
            where.append("c.status = @status")
            params["status"] = status
        if continuation:
            after = decode_cursor(continuation, 2)
            condition, marks = keyset_after(("c.created_at", "c.id"), after, "@", descending=True)
            where.append(condition)
            params |= marks
        query = "SELECT TOP @n * FROM c"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY c.created_at DESC, c.id DESC"
        docs = await self._db.query("runs", query, None, **params)
        return page_of(docs, limit, ("created_at", "run_id"), Run.from_doc)

    @remote
    async def add_items(self, run_id: str, queries: Sequence[str]) -> int:
        container = await self._db.container("items")
        # One single-partition scan of the ids makes a repeated call cost reads, not failed writes.
        query = "SELECT VALUE c.index FROM c WHERE c.run_id = @run_id"
        existing = set(await self._db.query("items", query, run_id, run_id=run_id))
        docs = [Item(run_id, i, q).to_doc() for i, q in enumerate(queries) if i not in existing]
        limiter = asyncio.Semaphore(MAX_CONCURRENCY)

        async def create_one(doc: dict[str, Any]) -> int:
            async with limiter:
                try:
                    await container.create_item(doc)
                except exceptions.CosmosResourceExistsError:
                    return 0
                return 1

        async def create_chunk(chunk: list[dict[str, Any]]) -> int:
            async with limiter:
                try:
                    # All-or-nothing: a chunk either lands whole or, if any item exists
                    # (a repeated call), falls back to one create per item below.
                    await container.execute_item_batch(
                        [("create", (doc,)) for doc in chunk], partition_key=run_id
                    )
                    return len(chunk)
                except exceptions.CosmosBatchOperationError as exc:
                    if exc.status_code != 409:
                        raise
            return sum(await asyncio.gather(*(create_one(doc) for doc in chunk)))

        chunks = [docs[i : i + _BATCH_SIZE] for i in range(0, len(docs), _BATCH_SIZE)]
        return sum(await asyncio.gather(*(create_chunk(chunk) for chunk in chunks)))

    @remote
    async def get_items(self, run_id: str, indexes: Iterable[int]) -> list[Item]:
        docs = await self._db.query(
            "items",
            "SELECT * FROM c WHERE c.run_id = @run_id AND ARRAY_CONTAINS(@indexes, c.index)",
            run_id,
            run_id=run_id,
            indexes=list(indexes),
        )
        return sorted((Item.from_doc(doc) for doc in docs), key=lambda item: item.index)

    @remote
    async def complete_item(
        self,
        run_id: str,
        index: int,
        outcome: ItemOutcome,
        cache_entry: CacheEntry | None = None,
    ) -> bool:
        change = changes.item_completion(run_id, index, outcome, self._db.now())
        moved = await self._db.modify("items", str(index), run_id, change)
        if cache_entry is not None:
            # No transaction spans two containers: the outcome first, so a crash in between
            # loses a cache entry (a later call to the model), never the item's bill.
            try:
                await self._cache.cache_put(cache_entry.key, cache_entry.value, cache_entry.ttl_s)
            except StoreError:
                logger.warning("cache store failed; the item's outcome stands", exc_info=True)
        return moved

    @remote
    async def record_attempt(self, run_id: str, index: int, error: ItemError) -> int:
        change = changes.item_attempt(run_id, index, error)
        return await self._db.modify("items", str(index), run_id, change)

    @remote
    async def list_items(
        self, run_id: str, *, after_index: int | None = None, limit: int = 100
    ) -> tuple[list[Item], int | None]:
        docs = await self._db.query(
            "items",
            "SELECT TOP @n * FROM c WHERE c.run_id = @run_id AND c.index > @after ORDER BY c.index",
            run_id,
            n=limit + 1,
            run_id=run_id,
            after=-1 if after_index is None else after_index,
        )
        items = [Item.from_doc(doc) for doc in docs]
        more = len(items) > limit
        items = items[:limit]
        return items, (items[-1].index if more else None)

    @remote
    async def item_totals(self, run_id: str) -> ItemTotals:
        rows = await self._db.query("items", _ITEM_TOTALS_QUERY, run_id, run_id=run_id)
        row = rows[0] if rows else {}
        return ItemTotals(
            ItemCounts(
                int(row.get("pending") or 0),
                int(row.get("completed") or 0),
                int(row.get("failed") or 0),
            ),
            Usage(int(row.get("prompt_tokens") or 0), int(row.get("completion_tokens") or 0)),
            float(row.get("cost") or 0.0),
            cached=int(row.get("cached") or 0),
            saved_cost=float(row.get("saved_cost") or 0.0),
        )

    @remote
    async def item_stats(self, run_id: str) -> RunStats:
        rows = await self._db.query("items", _ITEM_STATS_QUERY, run_id, run_id=run_id)
        return fold_run_stats(
            StatsRow.read(
                row["status"],
                row.get("attempts"),
                row.get("duration_ms"),
                row.get("model"),
                row.get("prompt"),
                row.get("completion"),
                row.get("cost"),
            )
            for row in rows
        )

    @remote
    async def swap_item_text(
        self, run_id: str, index: int, field: str, expected: str, new: str
    ) -> bool:
        change = changes.item_text_swap(run_id, index, field, expected, new)
        return await self._db.modify("items", str(index), run_id, change)

    @remote
    async def list_completed_items(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        continuation: str | None = None,
    ) -> Page[Item]:
        where = ["c.completed_at >= @start", "c.completed_at < @end"]
        params: dict[str, Any] = {"n": limit + 1, "start": dt_to_doc(start), "end": dt_to_doc(end)}
        if continuation:
            at, run_id, index = decode_cursor(continuation, 3)
            condition, marks = keyset_after(
                ("c.completed_at", "c.run_id", "c.index"), (str(at), str(run_id), int(index)), "@"
            )
            where.append(condition)
            params |= marks
        query = (
            f"SELECT TOP @n * FROM c WHERE {' AND '.join(where)} "
            "ORDER BY c.completed_at, c.run_id, c.index"
        )
        docs = await self._db.query("items", query, None, **params)
        return page_of(docs, limit, ("completed_at", "run_id", "index"), Item.from_doc)
