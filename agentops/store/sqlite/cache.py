"""The response cache in SQLite.

Rows carry `expires_at`; expired rows are misses, deleted when read and purged in bulk every few
hundred writes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from agentops.store.records import CacheEntry, cache_doc, dt_to_doc
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import UPSERT_SQL, loads, row

logger = logging.getLogger(__name__)

_PURGE_EVERY = 256


class SqliteCacheStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection
        self._puts = 0

    async def cache_get(self, key: str) -> dict[str, Any] | None:
        now = dt_to_doc(self._db.now())

        def op(conn: sqlite3.Connection) -> dict[str, Any] | None:
            found = conn.execute(
                "SELECT expires_at, doc FROM cache WHERE key = ?", (key,)
            ).fetchone()
            if found is None:
                return None
            if found[0] <= now:
                conn.execute("DELETE FROM cache WHERE key = ? AND expires_at <= ?", (key, now))
                return None
            return dict(loads(found[1])["value"])

        return await self._db.call(op)

    async def cache_get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        now = dt_to_doc(self._db.now())

        def op(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            found: dict[str, dict[str, Any]] = {}
            for start in range(0, len(keys), 500):  # stay under SQLite's variable limit
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, doc FROM cache WHERE key IN ({marks}) AND expires_at > ?",
                    [*chunk, now],
                ).fetchall()
                found |= {key: dict(loads(doc)["value"]) for key, doc in rows}
            return found

        return await self._db.call(op)

    async def cache_put(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        await self._db.write(self.write(CacheEntry(key, value, ttl_s)))

    def write(self, entry: CacheEntry) -> Callable[[sqlite3.Connection], None]:
        """The statement(s) that store `entry`, for this part or for another part's transaction
        (an item's outcome and its answer's entry commit together)."""
        now = self._db.now()
        doc = cache_doc(entry.key, entry.value, now + timedelta(seconds=entry.ttl_s), entry.ttl_s)
        self._puts += 1
        purge = self._puts % _PURGE_EVERY == 0

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(UPSERT_SQL["cache"], row("cache", doc))
            if purge:
                cur = conn.execute("DELETE FROM cache WHERE expires_at <= ?", (dt_to_doc(now),))
                logger.debug("purged %s expired cache entries", cur.rowcount)

        return op
