"""The store in one SQLite file: the local default.

- WAL journal and a busy timeout, so readers do not block the writer and two processes (the host
  and a CLI, say) can open the same file. Every write that reads first runs in `BEGIN IMMEDIATE`,
  which takes the write lock up front: a deferred transaction that upgrades later can fail with
  SQLITE_BUSY without waiting.
- One worker thread owns the connection; coroutines hand it work through `run_in_executor`, so
  the event loop never waits on disk. The thread also serialises this process's writes, which
  SQLite would serialise anyway.
- Each table keeps the document (JSON, the same shape as in Cosmos DB and in backups) and the
  columns that conditions, aggregates and ordering need.
- Cache expiry: rows carry `expires_at`; expired rows are misses, deleted when read and purged in
  bulk every few hundred writes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from agentops.store.checks import (
    check_amounts,
    check_index,
    check_key,
    check_limit,
    check_messages,
    check_owner,
    check_queries,
    check_text_field,
    check_texts,
    check_ttl,
    day_id,
    decode_cursor,
    encode_cursor,
)
from agentops.store.containers import check_collection
from agentops.store.errors import (
    AuditConflictError,
    ConcurrencyError,
    StoreError,
    StoreUnavailableError,
)
from agentops.store.records import (
    AuditEntry,
    Item,
    ItemCounts,
    ItemError,
    ItemOutcome,
    ItemStatus,
    ItemTotals,
    Message,
    Page,
    Run,
    Thread,
    ThreadOwner,
    Usage,
    appended_thread,
    apply_run_changes,
    cache_doc,
    dt_to_doc,
    retexted_thread,
    usage_doc,
    utc,
)

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_tenant ON runs (tenant_id, created_at DESC, run_id DESC);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (created_at DESC, run_id DESC);
CREATE TABLE IF NOT EXISTS items (
    run_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    status TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    doc TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cache_by_expiry ON cache (expires_at);
CREATE TABLE IF NOT EXISTS usage (
    scope TEXT NOT NULL,
    day TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    PRIMARY KEY (scope, day)
);
CREATE TABLE IF NOT EXISTS audit (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    entry_id TEXT NOT NULL,
    at TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
"""

# How a document of each collection becomes a row (restore and normal writes share it).
_UPSERT_SQL = {
    "runs": "INSERT OR REPLACE INTO runs (run_id, tenant_id, created_at, doc) VALUES (?, ?, ?, ?)",
    "items": "INSERT OR REPLACE INTO items "
    "(run_id, idx, status, prompt_tokens, completion_tokens, cost, doc) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)",
    "threads": "INSERT OR REPLACE INTO threads (thread_id, doc) VALUES (?, ?)",
    "cache": "INSERT OR REPLACE INTO cache (key, expires_at, doc) VALUES (?, ?, ?)",
    "usage": "INSERT OR REPLACE INTO usage (scope, day, tokens, cost) VALUES (?, ?, ?, ?)",
    "audit": "INSERT OR REPLACE INTO audit (tenant_id, seq, entry_id, at, doc) "
    "VALUES (?, ?, ?, ?, ?)",
}
_PURGE_EVERY = 256
_SCAN_PAGE = 500


def _dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _row(collection: str, doc: dict[str, Any]) -> tuple[Any, ...]:
    match collection:
        case "runs":
            return (doc["run_id"], doc["tenant_id"], doc["created_at"], _dumps(doc))
        case "items":
            usage = doc.get("usage") or {}
            return (
                doc["run_id"],
                int(doc["index"]),
                doc["status"],
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                float(doc.get("cost", 0.0)),
                _dumps(doc),
            )
        case "threads":
            return (doc["thread_id"], _dumps(doc))
        case "cache":
            return (doc["key"], doc["expires_at"], _dumps(doc))
        case "usage":
            return (doc["scope"], doc["day"], int(doc["tokens"]), float(doc["cost"]))
        case "audit":
            return (doc["tenant_id"], int(doc["seq"]), doc["entry_id"], doc["at"], _dumps(doc))
    raise ValueError(f"unknown collection {collection!r}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqliteStore:
    """The repository port on one SQLite file. See the module docstring for the design."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_s: float = 10.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._path = Path(path)
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._conn: sqlite3.Connection | None = None
        self._puts = 0
        self._closed = False

    # -- plumbing --------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self._call(lambda conn: None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

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
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: transactions are explicit (BEGIN IMMEDIATE) where a write reads first.
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=0)
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes with WAL
            conn.executescript(_SCHEMA)  # idempotent; each statement is atomic on its own
            self._conn = conn
        return self._conn

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    async def _call[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(self._connection()))
        except sqlite3.OperationalError as exc:
            # Busy beyond the timeout, disk full, I/O error: worth retrying later.
            raise StoreUnavailableError(f"sqlite store {self._path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite store {self._path}: {exc}") from exc

    def _now(self) -> datetime:
        return utc(self._clock())

    # -- runs ------------------------------------------------------------------------------
    async def create_run(self, run: Run) -> bool:
        check_key("run_id", run.run_id)
        check_key("tenant_id", run.tenant_id)
        doc = run.to_doc()

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO runs (run_id, tenant_id, created_at, doc) VALUES (?,?,?,?)",
                _row("runs", doc),
            )
            return cur.rowcount == 1

        return await self._call(op)

    async def get_run(self, run_id: str) -> Run | None:
        check_key("run_id", run_id)
        row = await self._call(
            lambda conn: conn.execute("SELECT doc FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        )
        return None if row is None else Run.from_doc(json.loads(row[0]))

    async def update_run(self, run_id: str, **changes: Any) -> Run:
        check_key("run_id", run_id)
        now = self._now()

        def op(conn: sqlite3.Connection) -> Run:
            with self._transaction(conn):
                row = conn.execute("SELECT doc FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                if row is None:
                    raise KeyError(f"run {run_id} does not exist")
                updated = apply_run_changes(Run.from_doc(json.loads(row[0])), changes, now)
                conn.execute(_UPSERT_SQL["runs"], _row("runs", updated.to_doc()))
                return updated

        return await self._call(op)

    async def list_runs(
        self, tenant_id: str | None, *, limit: int = 50, continuation: str | None = None
    ) -> Page[Run]:
        if tenant_id is not None:
            check_key("tenant_id", tenant_id)
        check_limit(limit)
        after = decode_cursor(continuation, 2) if continuation else None
        where, params = [], []
        if tenant_id is not None:
            where.append("tenant_id = ?")
            params.append(tenant_id)
        if after is not None:
            where.append("(created_at < ? OR (created_at = ? AND run_id < ?))")
            params += [after[0], after[0], after[1]]
        sql = "SELECT doc FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, run_id DESC LIMIT ?"
        params.append(limit + 1)
        rows = await self._call(lambda conn: conn.execute(sql, params).fetchall())
        docs = [json.loads(row[0]) for row in rows]
        more = len(docs) > limit
        docs = docs[:limit]
        token = encode_cursor(docs[-1]["created_at"], docs[-1]["run_id"]) if more else None
        return Page([Run.from_doc(doc) for doc in docs], token)

    # -- items -----------------------------------------------------------------------------
    async def add_items(self, run_id: str, queries: Sequence[str]) -> int:
        check_key("run_id", run_id)
        check_queries(queries)

        def op(conn: sqlite3.Connection) -> int:
            # Rows are built here, in the worker thread: for 10,000 items that is most of the work.
            rows = [_row("items", Item(run_id, i, q).to_doc()) for i, q in enumerate(queries)]
            with self._transaction(conn):
                before = conn.total_changes
                conn.executemany(_UPSERT_SQL["items"].replace("OR REPLACE", "OR IGNORE"), rows)
                return conn.total_changes - before

        return await self._call(op)

    async def get_items(self, run_id: str, indexes: Iterable[int]) -> list[Item]:
        check_key("run_id", run_id)
        wanted = sorted({check_index(i) for i in indexes})
        if not wanted:
            return []

        def op(conn: sqlite3.Connection) -> list[Item]:
            found: list[Item] = []
            for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT doc FROM items WHERE run_id = ? AND idx IN ({marks}) ORDER BY idx",
                    [run_id, *chunk],
                ).fetchall()
                found += [Item.from_doc(json.loads(row[0])) for row in rows]
            return found

        return await self._call(op)

    async def complete_item(self, run_id: str, index: int, outcome: ItemOutcome) -> bool:
        check_key("run_id", run_id)
        check_index(index)
        if not isinstance(outcome, ItemOutcome):
            raise TypeError("outcome must be an ItemOutcome")
        now = self._now()

        def op(conn: sqlite3.Connection) -> bool:
            with self._transaction(conn):
                row = conn.execute(
                    "SELECT doc FROM items WHERE run_id = ? AND idx = ?", (run_id, index)
                ).fetchone()
                if row is None:
                    raise KeyError(f"item {index} of run {run_id} does not exist")
                item = Item.from_doc(json.loads(row[0]))
                if item.status is not ItemStatus.PENDING:
                    return False
                doc = item.completed_with(outcome, now).to_doc()
                # The status condition makes the transition single-shot even if a second
                # process got here with a stale read.
                cur = conn.execute(
                    "UPDATE items SET status = ?, prompt_tokens = ?, completion_tokens = ?, "
                    "cost = ?, doc = ? WHERE run_id = ? AND idx = ? AND status = 'pending'",
                    (*_row("items", doc)[2:], run_id, index),
                )
                return cur.rowcount == 1

        return await self._call(op)

    async def record_attempt(self, run_id: str, index: int, error: ItemError) -> int:
        check_key("run_id", run_id)
        check_index(index)
        if not isinstance(error, ItemError):
            raise TypeError("error must be an ItemError")

        def op(conn: sqlite3.Connection) -> int:
            with self._transaction(conn):
                row = conn.execute(
                    "SELECT doc FROM items WHERE run_id = ? AND idx = ?", (run_id, index)
                ).fetchone()
                if row is None:
                    raise KeyError(f"item {index} of run {run_id} does not exist")
                doc = json.loads(row[0])
                if doc["status"] != ItemStatus.PENDING:
                    return int(doc["attempts"])
                doc["attempts"] = int(doc["attempts"]) + 1
                doc["error"] = error.to_doc()
                conn.execute(
                    "UPDATE items SET doc = ? WHERE run_id = ? AND idx = ?",
                    (_dumps(doc), run_id, index),
                )
                return int(doc["attempts"])

        return await self._call(op)

    async def list_items(
        self, run_id: str, *, after_index: int | None = None, limit: int = 100
    ) -> tuple[list[Item], int | None]:
        check_key("run_id", run_id)
        check_limit(limit)
        after = -1 if after_index is None else check_index(after_index)
        rows = await self._call(
            lambda conn: conn.execute(
                "SELECT doc FROM items WHERE run_id = ? AND idx > ? ORDER BY idx LIMIT ?",
                (run_id, after, limit + 1),
            ).fetchall()
        )
        items = [Item.from_doc(json.loads(row[0])) for row in rows]
        more = len(items) > limit
        items = items[:limit]
        return items, (items[-1].index if more else None)

    async def item_totals(self, run_id: str) -> ItemTotals:
        check_key("run_id", run_id)
        row = await self._call(
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
            ItemCounts(int(row[0]), int(row[1]), int(row[2])),
            Usage(int(row[3]), int(row[4])),
            float(row[5]),
            cached=int(row[6]),
            saved_cost=float(row[7]),
        )

    async def swap_item_text(
        self, run_id: str, index: int, field: str, expected: str, new: str
    ) -> bool:
        check_key("run_id", run_id)
        check_index(index)
        check_text_field(field, expected, new)

        def op(conn: sqlite3.Connection) -> bool:
            with self._transaction(conn):
                row = conn.execute(
                    "SELECT doc FROM items WHERE run_id = ? AND idx = ?", (run_id, index)
                ).fetchone()
                if row is None:
                    raise KeyError(f"item {index} of run {run_id} does not exist")
                doc = json.loads(row[0])
                if doc.get(field) != expected:
                    return False
                doc[field] = new
                conn.execute(
                    "UPDATE items SET doc = ? WHERE run_id = ? AND idx = ?",
                    (_dumps(doc), run_id, index),
                )
                return True

        return await self._call(op)

    # -- threads ---------------------------------------------------------------------------
    async def get_thread(self, thread_id: str) -> Thread | None:
        check_key("thread_id", thread_id)
        row = await self._call(
            lambda conn: conn.execute(
                "SELECT doc FROM threads WHERE thread_id = ?", (thread_id,)
            ).fetchone()
        )
        return None if row is None else Thread.from_doc(json.loads(row[0]))

    async def append_messages(
        self,
        thread_id: str,
        owner: ThreadOwner,
        messages: Sequence[Message],
        max_messages: int,
        *,
        encrypted: bool = False,
        expected_version: int | None = None,
    ) -> Thread:
        check_key("thread_id", thread_id)
        check_owner(owner)
        new = check_messages(messages, max_messages)
        now = self._now()

        def op(conn: sqlite3.Connection) -> Thread:
            with self._transaction(conn):
                row = conn.execute(
                    "SELECT doc FROM threads WHERE thread_id = ?", (thread_id,)
                ).fetchone()
                current = None if row is None else Thread.from_doc(json.loads(row[0]))
                version = current.version if current else 0
                if expected_version is not None and expected_version != version:
                    raise ConcurrencyError(
                        f"thread {thread_id} is at version {version}, not {expected_version}"
                    )
                thread = appended_thread(
                    current, thread_id, owner, new, max_messages, now, encrypted=encrypted
                )
                conn.execute(_UPSERT_SQL["threads"], _row("threads", thread.to_doc()))
                return thread

        return await self._call(op)

    async def replace_message_texts(
        self, thread_id: str, texts: Sequence[str], *, expected_version: int
    ) -> Thread:
        check_key("thread_id", thread_id)
        new_texts = check_texts(texts)
        now = self._now()

        def op(conn: sqlite3.Connection) -> Thread:
            with self._transaction(conn):
                row = conn.execute(
                    "SELECT doc FROM threads WHERE thread_id = ?", (thread_id,)
                ).fetchone()
                if row is None:
                    raise KeyError(f"thread {thread_id} does not exist")
                current = Thread.from_doc(json.loads(row[0]))
                thread = retexted_thread(current, new_texts, expected_version, now)
                conn.execute(_UPSERT_SQL["threads"], _row("threads", thread.to_doc()))
                return thread

        return await self._call(op)

    # -- cache -----------------------------------------------------------------------------
    async def cache_get(self, key: str) -> dict[str, Any] | None:
        check_key("cache key", key)
        now = dt_to_doc(self._now())

        def op(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT expires_at, doc FROM cache WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            if row[0] <= now:
                conn.execute("DELETE FROM cache WHERE key = ? AND expires_at <= ?", (key, now))
                return None
            return dict(json.loads(row[1])["value"])

        return await self._call(op)

    async def cache_put(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        check_key("cache key", key)
        check_ttl(ttl_s)
        if not isinstance(value, dict):
            raise TypeError("cache value must be a dict")
        now = self._now()
        doc = cache_doc(key, value, now + timedelta(seconds=ttl_s), ttl_s)
        self._puts += 1
        purge = self._puts % _PURGE_EVERY == 0

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(_UPSERT_SQL["cache"], _row("cache", doc))
            if purge:
                cur = conn.execute("DELETE FROM cache WHERE expires_at <= ?", (dt_to_doc(now),))
                logger.debug("purged %s expired cache entries", cur.rowcount)

        await self._call(op)

    # -- usage counters --------------------------------------------------------------------
    async def add_usage(self, scope: str, day: date, tokens: int, cost: float) -> tuple[int, float]:
        check_key("scope", scope)
        check_amounts(tokens, cost)
        day_key = day_id(day)
        row = await self._call(
            lambda conn: conn.execute(
                "INSERT INTO usage (scope, day, tokens, cost) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (scope, day) DO UPDATE SET "
                "tokens = tokens + excluded.tokens, cost = cost + excluded.cost "
                "RETURNING tokens, cost",
                (scope, day_key, tokens, float(cost)),
            ).fetchone()
        )
        return int(row[0]), float(row[1])

    async def get_usage(self, scope: str, day: date) -> tuple[int, float]:
        check_key("scope", scope)
        day_key = day_id(day)
        row = await self._call(
            lambda conn: conn.execute(
                "SELECT tokens, cost FROM usage WHERE scope = ? AND day = ?", (scope, day_key)
            ).fetchone()
        )
        return (0, 0.0) if row is None else (int(row[0]), float(row[1]))

    # -- audit -----------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> bool:
        check_key("tenant_id", entry.tenant_id)
        check_key("audit entry id", entry.id)
        doc = entry.to_doc()

        def op(conn: sqlite3.Connection) -> bool:
            try:
                conn.execute(_UPSERT_SQL["audit"].replace("OR REPLACE ", ""), _row("audit", doc))
                return True
            except sqlite3.IntegrityError:
                row = conn.execute(
                    "SELECT entry_id FROM audit WHERE tenant_id = ? AND seq = ?",
                    (entry.tenant_id, entry.seq),
                ).fetchone()
                if row is not None and row[0] == entry.id:
                    return False
                raise AuditConflictError(entry.tenant_id, entry.seq) from None

        return await self._call(op)

    async def last_audit(self, tenant_id: str) -> AuditEntry | None:
        check_key("tenant_id", tenant_id)
        row = await self._call(
            lambda conn: conn.execute(
                "SELECT doc FROM audit WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1", (tenant_id,)
            ).fetchone()
        )
        return None if row is None else AuditEntry.from_doc(json.loads(row[0]))

    async def list_audit(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        limit: int = 100,
        continuation: str | None = None,
    ) -> Page[AuditEntry]:
        check_key("tenant_id", tenant_id)
        check_limit(limit)
        after = int(decode_cursor(continuation, 1)[0]) if continuation else -1
        since_key = dt_to_doc(since) if since is not None else ""
        rows = await self._call(
            lambda conn: conn.execute(
                "SELECT doc FROM audit WHERE tenant_id = ? AND seq > ? AND at >= ? "
                "ORDER BY seq LIMIT ?",
                (tenant_id, after, since_key, limit + 1),
            ).fetchall()
        )
        entries = [AuditEntry.from_doc(json.loads(row[0])) for row in rows]
        more = len(entries) > limit
        entries = entries[:limit]
        return Page(entries, encode_cursor(entries[-1].seq) if more else None)

    # -- backup ----------------------------------------------------------------------------
    async def iter_collection(self, name: str) -> AsyncIterator[dict[str, Any]]:
        check_collection(name)
        select = (
            "SELECT rowid, scope, day, tokens, cost FROM usage"
            if name == "usage"
            else f"SELECT rowid, doc FROM {name}"
        )
        after = 0
        while True:
            rows = await self._call(
                lambda conn, after=after: conn.execute(
                    f"{select} WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, _SCAN_PAGE)
                ).fetchall()
            )
            for row in rows:
                yield (
                    usage_doc(row[1], row[2], row[3], row[4])
                    if name == "usage"
                    else json.loads(row[1])
                )
            if len(rows) < _SCAN_PAGE:
                return
            after = rows[-1][0]

    async def restore_documents(self, name: str, docs: Iterable[dict[str, Any]]) -> int:
        check_collection(name)
        documents = list(docs)

        def op(conn: sqlite3.Connection) -> int:
            try:
                rows = [_row(name, doc) for doc in documents]
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"a {name} document is malformed: {exc}") from exc
            with self._transaction(conn):
                conn.executemany(_UPSERT_SQL[name], rows)
            return len(rows)

        return await self._call(op)
