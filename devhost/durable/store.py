"""SQLite persistence for the durable engine: WAL, one writer, group commits.

The engine keeps the live state in memory and hands every state change to this store as a group of
statements that must commit together. A background writer drains whatever groups have queued up and
commits them in one transaction, so a burst of a thousand activity completions costs a handful of
fsyncs, not a thousand. Groups commit in submission order, so after a crash the database holds a
prefix of the engine's history of changes: always a consistent state to recover from.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .history import Event

logger = logging.getLogger(__name__)

Statement = tuple[str, Sequence[Any]]

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    hub TEXT NOT NULL, instance_id TEXT NOT NULL, name TEXT NOT NULL,
    execution_id TEXT NOT NULL, status TEXT NOT NULL, input TEXT, output TEXT,
    custom_status TEXT, created_time TEXT NOT NULL, last_updated_time TEXT NOT NULL,
    parent_instance_id TEXT, parent_execution_id TEXT, parent_task_id INTEGER, version TEXT,
    PRIMARY KEY (hub, instance_id)
);
CREATE TABLE IF NOT EXISTS history (
    hub TEXT NOT NULL, instance_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL,
    PRIMARY KEY (hub, instance_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
    hub TEXT NOT NULL, id INTEGER NOT NULL, instance_id TEXT NOT NULL,
    execution_id TEXT, event TEXT NOT NULL, PRIMARY KEY (hub, id)
);
CREATE TABLE IF NOT EXISTS activity_work (
    hub TEXT NOT NULL, id INTEGER NOT NULL, instance_id TEXT NOT NULL,
    execution_id TEXT NOT NULL, task_id INTEGER NOT NULL, name TEXT NOT NULL, input TEXT,
    PRIMARY KEY (hub, id)
);
CREATE TABLE IF NOT EXISTS timers (
    hub TEXT NOT NULL, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
    timer_id INTEGER NOT NULL, fire_at TEXT NOT NULL,
    PRIMARY KEY (hub, instance_id, execution_id, timer_id)
);
"""


@dataclass
class InstanceRow:
    instance_id: str
    name: str
    execution_id: str
    status: str
    input: str | None
    output: str | None
    custom_status: str | None
    created_time: str
    last_updated_time: str
    parent_instance_id: str | None
    parent_execution_id: str | None
    parent_task_id: int | None
    version: str | None = None


@dataclass
class LoadedState:
    instances: list[InstanceRow] = field(default_factory=list)
    histories: dict[str, list[Event]] = field(default_factory=dict)
    inbox: list[tuple[int, str, str | None, Event]] = field(default_factory=list)
    work: list[tuple[int, str, str, int, str, str | None]] = field(default_factory=list)
    timers: list[tuple[str, str, int, str]] = field(default_factory=list)
    max_inbox_id: int = 0
    max_work_id: int = 0


class DurableStore:
    """Owns the SQLite file: writes go through `submit`, cold history through `read_history`."""

    def __init__(self, db_path: Path, task_hub: str) -> None:
        self.hub = task_hub
        self._path = db_path
        self._writer_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="durable-db")
        self._conn: sqlite3.Connection | None = None
        self._read_conn: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        self._pending: list[tuple[list[Statement], asyncio.Future[None]]] = []
        self._wakeup: asyncio.Event | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def path(self) -> Path:
        return self._path

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL survives a killed process (WAL frames are in the OS cache); only power loss
        # could drop the last commits, which a local host can afford.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def open(self) -> LoadedState:
        """Create the schema and load every live instance (blocking; call from a thread)."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = self._connect()
        self._conn.executescript(SCHEMA)
        _add_missing_columns(self._conn)
        self._read_conn = self._connect()
        return self._load(self._conn)

    def _load(self, conn: sqlite3.Connection) -> LoadedState:
        state = LoadedState()
        hub = (self.hub,)
        for row in conn.execute(
            "SELECT instance_id, name, execution_id, status, input, output, custom_status,"
            " created_time, last_updated_time, parent_instance_id, parent_execution_id,"
            " parent_task_id, version FROM instances WHERE hub = ?",
            hub,
        ):
            state.instances.append(InstanceRow(*row))
        live = {row.instance_id for row in state.instances if not _is_terminal(row.status)}
        for instance_id, event in conn.execute(
            "SELECT instance_id, event FROM history WHERE hub = ? ORDER BY instance_id, seq", hub
        ):
            if instance_id in live:
                state.histories.setdefault(instance_id, []).append(json.loads(event))
        for row_id, instance_id, execution_id, event in conn.execute(
            "SELECT id, instance_id, execution_id, event FROM inbox WHERE hub = ? ORDER BY id",
            hub,
        ):
            state.inbox.append((row_id, instance_id, execution_id, json.loads(event)))
            state.max_inbox_id = max(state.max_inbox_id, row_id)
        for row in conn.execute(
            "SELECT id, instance_id, execution_id, task_id, name, input FROM activity_work"
            " WHERE hub = ? ORDER BY id",
            hub,
        ):
            state.work.append(row)
            state.max_work_id = max(state.max_work_id, row[0])
        state.timers = list(
            conn.execute(
                "SELECT instance_id, execution_id, timer_id, fire_at FROM timers WHERE hub = ?",
                hub,
            )
        )
        return state

    def start_writer(self) -> None:
        self._wakeup = asyncio.Event()
        self._writer_task = asyncio.create_task(self._write_loop(), name="durable-db-writer")

    def submit(self, statements: list[Statement]) -> asyncio.Future[None]:
        """Queue a group of statements that commit atomically; the future resolves on commit."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((statements, future))
        assert self._wakeup is not None
        self._wakeup.set()
        return future

    async def _write_loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self._pending:
                if self._closing:
                    return
                continue
            batch, self._pending = self._pending, []
            try:
                await loop.run_in_executor(self._writer_pool, self._commit, batch)
            except Exception as exc:
                logger.exception("durable store commit failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)
            if self._pending or self._closing:
                self._wakeup.set()

    def _commit(self, batch: list[tuple[list[Statement], asyncio.Future[None]]]) -> None:
        assert self._conn is not None
        conn = self._conn
        conn.execute("BEGIN")
        try:
            for statements, _ in batch:
                for sql, params in statements:
                    conn.execute(sql, params)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def read_history(self, instance_id: str) -> list[Event]:
        """History from disk, for instances whose history is no longer held in memory."""
        assert self._read_conn is not None
        with self._read_lock:
            rows = self._read_conn.execute(
                "SELECT event FROM history WHERE hub = ? AND instance_id = ? ORDER BY seq",
                (self.hub, instance_id),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    async def close(self) -> None:
        """Flush queued groups, then close the connections."""
        if self._writer_task is not None:
            self._closing = True
            assert self._wakeup is not None
            self._wakeup.set()
            with contextlib.suppress(Exception):
                await self._writer_task
            self._writer_task = None
        self._writer_pool.shutdown(wait=True)
        for conn in (self._conn, self._read_conn):
            if conn is not None:
                conn.close()
        self._conn = self._read_conn = None


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a task hub written by an older devhost up to this schema."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(instances)")}
    if "version" not in columns:
        conn.execute("ALTER TABLE instances ADD COLUMN version TEXT")


TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Terminated", "Canceled"})


def _is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES
