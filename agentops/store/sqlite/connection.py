"""One SQLite file and the one thread that owns its connection, shared by the store's parts.

- WAL journal and a busy timeout, so readers do not block the writer and two processes (the host
  and a CLI, say) can open the same file. Every write that reads first runs in `BEGIN IMMEDIATE`,
  which takes the write lock up front: a deferred transaction that upgrades later can fail with
  SQLITE_BUSY without waiting.
- One worker thread owns the connection; coroutines hand it work through `run_in_executor`, so
  the event loop never waits on disk. The thread also serialises this process's writes, which
  SQLite would serialise anyway.
- Writes (`write`, `modify`) queue up while the thread is busy and go to it together: one
  hand-off and one commit for all that were waiting, each as atomic as alone (group_commit.py).
  One group is in flight at a time; the next one is what queued meanwhile.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from agentops.store.changes import Change
from agentops.store.errors import StoreError, StoreUnavailableError
from agentops.store.records import utc
from agentops.store.sqlite.group_commit import Outcome, Write, commit_group
from agentops.store.sqlite.tables import SCHEMA, WRITE_SQL, loads, migrate, row


class _Queued:
    __slots__ = ("future", "write")

    def __init__(self, write: Write, future: asyncio.Future[Any]) -> None:
        self.write = write
        self.future = future


class SqliteConnection:
    def __init__(self, path: Path, *, busy_timeout_s: float, clock: Callable[[], datetime]) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._queued: list[_Queued] = []
        # The loop whose writes are being committed or about to be (None: no write pending),
        # and the group of them on the thread now.
        self._writing: asyncio.AbstractEventLoop | None = None
        self._group: asyncio.Future[list[Outcome]] | None = None

    async def open(self) -> None:
        await self.call(lambda conn: None)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        # Writes accepted before the close are finished first (each group starts the next).
        while self._writing is loop:
            if self._group is None:
                await asyncio.sleep(0)  # the first group starts on the loop's next turn
            else:
                await asyncio.wait([self._group])
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
        except sqlite3.Error as exc:
            raise self._translated(exc) from exc

    def _translated(self, exc: sqlite3.Error) -> StoreError:
        if isinstance(exc, sqlite3.OperationalError):
            # Busy beyond the timeout, disk full, I/O error: worth retrying later.
            return StoreUnavailableError(f"sqlite store {self.path}: {exc}")
        return StoreError(f"sqlite store {self.path}: {exc}")

    async def write[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` as one atomic write, in a transaction it may share with the writes queued
        beside it (group_commit.py). The result comes once committed.

        The first write of an idle store starts its group on the loop's next turn, not at
        once, so the writes that the same turn makes (a batch's items whose answers arrived
        together) join it. Nothing waits on a timer: a group is what is already queued.
        """
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        if self._writing is not None and self._writing is not loop:
            # Another event loop's writes are pending (a CLI beside the host, a test): stay
            # out of its queue, whose results that loop delivers.
            return await self.call(lambda conn: commit_group(conn, [fn])[0].value)
        future: asyncio.Future[T] = loop.create_future()
        self._queued.append(_Queued(fn, future))
        if self._writing is None:
            self._writing = loop
            loop.call_soon(self._start_group, loop)
        return await future

    def _start_group(self, loop: asyncio.AbstractEventLoop) -> None:
        group = [queued for queued in self._queued if not queued.future.done()]  # not canceled
        self._queued = []
        if not group:
            self._writing = self._group = None
            return
        writes = [queued.write for queued in group]
        try:
            running = loop.run_in_executor(
                self._executor, lambda: commit_group(self._connection(), writes)
            )
        except RuntimeError:  # the executor is shut down: the store was closed meanwhile
            self._writing = self._group = None
            for queued in group:
                queued.future.set_exception(StoreError("the store is closed"))
            return
        self._group = running
        running.add_done_callback(lambda done: self._end_group(loop, group, done))

    def _end_group(
        self,
        loop: asyncio.AbstractEventLoop,
        group: list[_Queued],
        done: asyncio.Future[list[Outcome]],
    ) -> None:
        # The next group first (what queued meanwhile), so the thread works while these
        # results are delivered.
        self._start_group(loop)
        if done.cancelled():
            outcomes = [Outcome(error=StoreError("the write was canceled"))] * len(group)
        elif (failed := done.exception()) is not None:
            outcomes = [Outcome(error=failed)] * len(group)  # nothing of the group committed
        else:
            outcomes = done.result()
        for queued, outcome in zip(group, outcomes, strict=True):
            if queued.future.done():
                continue  # its caller was canceled; what it wrote stands
            error = outcome.error
            if error is None:
                queued.future.set_result(outcome.value)
            elif isinstance(error, sqlite3.Error):
                translated = self._translated(error)
                translated.__cause__ = error
                queued.future.set_exception(translated)
            else:
                queued.future.set_exception(error)

    async def modify[T](
        self,
        table: str,
        where: str,
        key: tuple[str | int, ...],
        change: Change[T],
        also: Callable[[sqlite3.Connection], None] | None = None,
    ) -> T:
        """Read one document, apply `change`, write the result: one atomic write (`write`),
        which `also` joins (another write that must commit with this one)."""
        select = f"SELECT doc FROM {table} WHERE {where}"

        def op(conn: sqlite3.Connection) -> T:
            found = conn.execute(select, key).fetchone()
            new, result = change(None if found is None else loads(found[0]))
            if new is not None:
                conn.execute(WRITE_SQL[table], row(table, new))
            if also is not None:
                also(conn)
            return result

        return await self.write(op)

    def now(self) -> datetime:
        return utc(self._clock())
