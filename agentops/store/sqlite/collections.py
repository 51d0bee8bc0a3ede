"""Whole tables as documents, for backups and restores: scanned in rowid pages."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from typing import Any

from agentops.store.records import usage_doc
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import UPSERT_SQL, row

_SCAN_PAGE = 500


class SqliteCollectionStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def iter_collection(self, name: str) -> AsyncIterator[dict[str, Any]]:
        select = (
            "SELECT rowid, scope, day, tokens, cost FROM usage"
            if name == "usage"
            else f"SELECT rowid, doc FROM {name}"
        )
        after = 0
        while True:
            rows = await self._db.call(
                lambda conn, after=after: conn.execute(
                    f"{select} WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, _SCAN_PAGE)
                ).fetchall()
            )
            for found in rows:
                yield (
                    usage_doc(found[1], found[2], found[3], found[4])
                    if name == "usage"
                    else json.loads(found[1])
                )
            if len(rows) < _SCAN_PAGE:
                return
            after = rows[-1][0]

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
