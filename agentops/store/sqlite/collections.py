"""Whole tables as documents, for backups and restores: scanned in rowid pages."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from agentops.store.records import usage_doc
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import UPSERT_SQL, loads, row

_SCAN_PAGE = 500


class RowidRange(BaseModel):
    """A range token of this adapter: rows with ``rowid_after < rowid <= rowid_upto``, either
    bound open when None."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    rowid_after: int | None
    rowid_upto: int | None


class SqliteCollectionStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def collection_ranges(
        self, name: str, *, since: datetime | None = None, target_docs: int
    ) -> list[dict[str, Any]]:
        """Rowid ranges of about `target_docs` rows each (of those written at or after `since`,
        when given): half-open, ``(rowid_after, rowid_upto]``, the first open below and the last
        open above, so together they hold every row, each once, rows added later included."""
        if target_docs < 1:
            raise ValueError("target_docs is at least 1")
        where = "" if since is None else "WHERE modified_at >= ?"
        params: tuple[Any, ...] = () if since is None else (_epoch_ms(since),)
        bounds = await self._db.call(
            lambda conn: [
                found[0]
                for found in conn.execute(
                    f"SELECT rowid FROM (SELECT rowid, row_number() OVER (ORDER BY rowid) AS n "
                    f"FROM {name} {where}) WHERE n % ? = 0",
                    (*params, target_docs),
                )
            ]
        )
        edges: list[int | None] = [None, *bounds, None]
        return [
            RowidRange(rowid_after=low, rowid_upto=high).model_dump()
            for low, high in itertools.pairwise(edges)
        ]

    async def iter_collection(
        self,
        name: str,
        *,
        since: datetime | None = None,
        key_range: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        select = (
            "SELECT rowid, scope, day, tokens, cost FROM usage"
            if name == "usage"
            else f"SELECT rowid, doc FROM {name}"
        )
        if key_range is not None:
            # One range of rowids, in rowid pages. A row rewritten in place keeps its rowid: one
            # the scan has passed is left for the next backup, whose watermark starts before it.
            bounds = RowidRange.model_validate(key_range)
            upto = "" if bounds.rowid_upto is None else f"AND rowid <= {int(bounds.rowid_upto)} "
            written = "" if since is None else f"AND modified_at >= {_epoch_ms(since)} "
            pages = f"{select} WHERE rowid > ? {upto}{written}ORDER BY rowid LIMIT ?"
            after: tuple[int, ...] = (
                -(2**63) if bounds.rowid_after is None else bounds.rowid_after,
            )
        elif since is None:
            # Every row, in rowid pages: a row rewritten in place keeps its place in the scan.
            pages = f"{select} WHERE rowid > ? ORDER BY rowid LIMIT ?"
            after = (-(2**63),)
        else:
            # Paged by (modified_at, rowid) along the index: a row written during the scan moves
            # behind the cursor and is read again rather than missed.
            select = select.replace("SELECT rowid,", "SELECT rowid, modified_at,")
            pages = (
                f"{select} WHERE (modified_at, rowid) > (?, ?) ORDER BY modified_at, rowid LIMIT ?"
            )
            after = (_epoch_ms(since), -(2**63))  # every rowid at `since` itself
        by_time = key_range is None and since is not None
        while True:
            rows = await self._db.call(
                lambda conn, after=after: conn.execute(pages, (*after, _SCAN_PAGE)).fetchall()
            )
            for found in rows:
                values = found[2:] if by_time else found[1:]
                yield usage_doc(*values) if name == "usage" else loads(values[0])
            if len(rows) < _SCAN_PAGE:
                return
            last = rows[-1]
            after = (last[1], last[0]) if by_time else (last[0],)

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
