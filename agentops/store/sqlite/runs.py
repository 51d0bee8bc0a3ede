"""Runs and their items in SQLite: `runs` keyed by run_id, `items` by (run_id, idx)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from agentops.store import changes
from agentops.store.checks import decode_cursor, keyset_after, page_of
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
from agentops.store.sqlite.cache import SqliteCacheStore
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import INSERT_NEW_SQL, loads, row

_ITEM = "run_id = ? AND idx = ?"
# The expression of the items_by_completion index, spelled the same so that SQLite uses it.
_COMPLETED_AT = "json_extract(doc, '$.completed_at')"


class SqliteRunStore:
    def __init__(self, connection: SqliteConnection, cache: SqliteCacheStore) -> None:
        self._db = connection
        self._cache = cache

    async def create_run(self, run: Run) -> bool:
        doc = run.to_doc()

        def op(conn: sqlite3.Connection) -> bool:
            return conn.execute(INSERT_NEW_SQL["runs"], row("runs", doc)).rowcount == 1

        return await self._db.call(op)

    async def get_run(self, run_id: str) -> Run | None:
        found = await self._db.call(
            lambda conn: conn.execute("SELECT doc FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        )
        return None if found is None else Run.from_doc(loads(found[0]))

    async def update_run(self, run_id: str, **changes_: Any) -> Run:
        change = changes.run_update(run_id, changes_, self._db.now())
        return await self._db.modify("runs", "run_id = ?", (run_id,), change)

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
            where.append("tenant_id = :tenant_id")
            params["tenant_id"] = tenant_id
        if agent is not None:
            where.append("json_extract(doc, '$.agent') = :agent")
            params["agent"] = agent
        if status is not None:
            where.append("json_extract(doc, '$.status') = :status")
            params["status"] = status
        if continuation:
            after = decode_cursor(continuation, 2)
            condition, marks = keyset_after(("created_at", "run_id"), after, ":", descending=True)
            where.append(condition)
            params |= marks
        sql = "SELECT doc FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, run_id DESC LIMIT :n"
        rows = await self._db.call(lambda conn: conn.execute(sql, params).fetchall())
        docs = [loads(found[0]) for found in rows]
        return page_of(docs, limit, ("created_at", "run_id"), Run.from_doc)

    async def add_items(self, run_id: str, queries: Sequence[str]) -> int:
        def op(conn: sqlite3.Connection) -> int:
            # Rows are built here, in the worker thread: for 10,000 items that is most of the work.
            rows = [row("items", Item(run_id, i, q).to_doc()) for i, q in enumerate(queries)]
            with self._db.transaction(conn):
                before = conn.total_changes
                conn.executemany(INSERT_NEW_SQL["items"], rows)
                return conn.total_changes - before

        return await self._db.call(op)

    async def get_items(self, run_id: str, indexes: Iterable[int]) -> list[Item]:
        wanted = list(indexes)  # distinct and sorted by the facade

        def op(conn: sqlite3.Connection) -> list[Item]:
            found: list[Item] = []
            for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT doc FROM items WHERE run_id = ? AND idx IN ({marks}) ORDER BY idx",
                    [run_id, *chunk],
                ).fetchall()
                found += [Item.from_doc(loads(r[0])) for r in rows]
            return found

        return await self._db.call(op)

    async def complete_item(
        self,
        run_id: str,
        index: int,
        outcome: ItemOutcome,
        cache_entry: CacheEntry | None = None,
    ) -> bool:
        change = changes.item_completion(run_id, index, outcome, self._db.now())
        # The answer's cache entry commits with the outcome: no crash leaves one without the other.
        also = None if cache_entry is None else self._cache.write(cache_entry)
        return await self._db.modify("items", _ITEM, (run_id, index), change, also)

    async def record_attempt(self, run_id: str, index: int, error: ItemError) -> int:
        change = changes.item_attempt(run_id, index, error)
        return await self._db.modify("items", _ITEM, (run_id, index), change)

    async def list_items(
        self, run_id: str, *, after_index: int | None = None, limit: int = 100
    ) -> tuple[list[Item], int | None]:
        after = -1 if after_index is None else after_index
        rows = await self._db.call(
            lambda conn: conn.execute(
                "SELECT doc FROM items WHERE run_id = ? AND idx > ? ORDER BY idx LIMIT ?",
                (run_id, after, limit + 1),
            ).fetchall()
        )
        items = [Item.from_doc(loads(r[0])) for r in rows]
        more = len(items) > limit
        items = items[:limit]
        return items, (items[-1].index if more else None)

    async def item_totals(self, run_id: str) -> ItemTotals:
        found = await self._db.call(
            lambda conn: conn.execute(
                "SELECT "
                "COALESCE(SUM(status = 'pending'), 0), COALESCE(SUM(status = 'completed'), 0), "
                "COALESCE(SUM(status = 'failed'), 0), COALESCE(SUM(prompt_tokens), 0), "
                "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost), 0.0), "
                "COALESCE(SUM(json_extract(doc, '$.cached')), 0), "
                "COALESCE(SUM(json_extract(doc, '$.saved_cost')), 0.0) "
                "FROM items WHERE run_id = ?",
                (run_id,),
            ).fetchone()
        )
        return ItemTotals(
            ItemCounts(int(found[0]), int(found[1]), int(found[2])),
            Usage(int(found[3]), int(found[4])),
            float(found[5]),
            cached=int(found[6]),
            saved_cost=float(found[7]),
        )

    async def item_stats(self, run_id: str) -> RunStats:
        rows = await self._db.call(
            lambda conn: conn.execute(
                "SELECT status, json_extract(doc, '$.attempts'), "
                "json_extract(doc, '$.duration_ms'), json_extract(doc, '$.model'), "
                "prompt_tokens, completion_tokens, cost "
                "FROM items WHERE run_id = ? ORDER BY idx",
                (run_id,),
            ).fetchall()
        )
        return fold_run_stats(StatsRow.read(*row) for row in rows)

    async def swap_item_text(
        self, run_id: str, index: int, field: str, expected: str, new: str
    ) -> bool:
        change = changes.item_text_swap(run_id, index, field, expected, new)
        return await self._db.modify("items", _ITEM, (run_id, index), change)

    async def list_completed_items(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 500,
        continuation: str | None = None,
    ) -> Page[Item]:
        sql = f"SELECT doc FROM items WHERE {_COMPLETED_AT} >= :start AND {_COMPLETED_AT} < :end"
        params: dict[str, Any] = {"start": dt_to_doc(start), "end": dt_to_doc(end), "n": limit + 1}
        if continuation:
            at, run_id, index = decode_cursor(continuation, 3)
            condition, marks = keyset_after(
                (_COMPLETED_AT, "run_id", "idx"), (str(at), str(run_id), int(index)), ":"
            )
            sql += f" AND {condition}"
            params |= marks
        sql += f" ORDER BY {_COMPLETED_AT}, run_id, idx LIMIT :n"
        rows = await self._db.call(lambda conn: conn.execute(sql, params).fetchall())
        docs = [loads(found[0]) for found in rows]
        return page_of(docs, limit, ("completed_at", "run_id", "index"), Item.from_doc)
