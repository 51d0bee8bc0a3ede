"""Whole tables as documents, for backups and restores: scanned in rowid pages."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from agentops.store.records import usage_doc
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import UPSERT_SQL, row

_SCAN_PAGE = 500


class SqliteCollectionStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def iter_collection(
        self, name: str, *, since: datetime | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        select = (
            "SELECT rowid, scope, day, tokens, cost FROM usage"
            if name == "usage"
            else f"SELECT rowid, doc FROM {name}"
        )
        if since is None:
            # Every row, in rowid pages: a row rewritten in place keeps its place in the scan.
            pages = f"{select} WHERE rowid > ? ORDER BY rowid LIMIT ?"
            after: tuple[int, ...] = (0,)
        else:
            # Paged by (modified_at, rowid) along the index: a row written during the scan moves
            # behind the cursor and is read again rather than missed.
            select = select.replace("SELECT rowid,", "SELECT rowid, modified_at,")
            pages = (
                f"{select} WHERE (modified_at, rowid) > (?, ?) ORDER BY modified_at, rowid LIMIT ?"
            )
            after = (_epoch_ms(since), -(2**63))  # every rowid at `since` itself
        while True:
            rows = await self._db.call(
                lambda conn, after=after: conn.execute(pages, (*after, _SCAN_PAGE)).fetchall()
            )
            for found in rows:
                values = found[1:] if since is None else found[2:]
                yield usage_doc(*values) if name == "usage" else json.loads(values[0])
            if len(rows) < _SCAN_PAGE:
                return
            last = rows[-1]
            after = (last[0],) if since is None else (last[1], last[0])

    async def restore_documents(self, name: str, docs: Iterable[dict[str, Any]]) -> int:
        documents = list(docs)

        def op(conn: sqlite3.Connection) -> int:
            try:
                rows = [row(name, doc) for doc in documents]
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"a {name} document is malformed: {exc}") from exc
            with self._db.transaction(conn):
                conn.executemany(UPSERT_SQL[name], rows)
            return len(rows)

        return await self._db.call(op)


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
