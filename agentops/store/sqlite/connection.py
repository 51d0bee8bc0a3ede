"""One SQLite file and the one thread that owns its connection, shared by the store's parts.

- WAL journal and a busy timeout, so readers do not block the writer and two processes (the host
  and a CLI, say) can open the same file. Every write that reads first runs in `BEGIN IMMEDIATE`,
  which takes the write lock up front: a deferred transaction that upgrades later can fail with
  SQLITE_BUSY without waiting.
- One worker thread owns the connection; coroutines hand it work through `run_in_executor`, so
  the event loop never waits on disk. The thread also serialises this process's writes, which
  SQLite would serialise anyway.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from agentops.store.changes import Change
from agentops.store.errors import StoreError, StoreUnavailableError
from agentops.store.records import utc
from agentops.store.sqlite.tables import SCHEMA, WRITE_SQL, migrate, row


class SqliteConnection:
    def __init__(self, path: Path, *, busy_timeout_s: float, clock: Callable[[], datetime]) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    async def open(self) -> None:
        await self.call(lambda conn: None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close_conn)
        self._executor.shutdown(wait=True)

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: transactions are explicit (BEGIN IMMEDIATE) where a write reads first.
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=0)
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes with WAL
            conn.executescript(SCHEMA)  # idempotent; each statement is atomic on its own
            migrate(conn)
            self._conn = conn
        return self._conn

    @staticmethod
    @contextmanager
    def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def call[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(self._connection()))
        except sqlite3.OperationalError as exc:
            # Busy beyond the timeout, disk full, I/O error: worth retrying later.
            raise StoreUnavailableError(f"sqlite store {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store {self.path}: {exc}") from exc

    async def modify[T](
        self,
        table: str,
        where: str,
        key: tuple[str | int, ...],
        change: Change[T],
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> T:
        """Read one document, apply `change`, write the result: one write transaction, which
        `also` joins (another write that must commit with this one)."""

        def op(conn: sqlite3.Connection) -> T:
            with self.transaction(conn):
                found = conn.execute(f"SELECT doc FROM {table} WHERE {where}", key).fetchone()
                new, result = change(None if found is None else json.loads(found[0]))
                if new is not None:
                    conn.execute(WRITE_SQL[table], row(table, new))
                if also is not None:
                    also(conn)
                return result

        return await self.call(op)

    def now(self) -> datetime:
        return utc(self._clock())
