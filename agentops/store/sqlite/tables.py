"""The SQLite tables: each keeps the document (JSON, the same shape as in Cosmos DB and in
backups) and the columns that conditions, aggregates and ordering need.

Every row also has `modified_at`, the store's wall clock in milliseconds since the epoch at its
last write, the counterpart of Cosmos DB's `_ts`: incremental backups select rows by it. Every
write statement sets it (`NOW_MS`); databases made before it existed gain it in `migrate`.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pydantic_core import from_json, to_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL,
    modified_at INTEGER NOT NULL DEFAULT 0
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
    modified_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, idx)
);
-- The cost report's scan: items completed in a period, in time order (an expression index, so
-- existing files need no new column).
CREATE INDEX IF NOT EXISTS items_by_completion
    ON items (json_extract(doc, '$.completed_at'), run_id, idx);
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    modified_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL,
    doc TEXT NOT NULL,
    modified_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS cache_by_expiry ON cache (expires_at);
CREATE TABLE IF NOT EXISTS usage (
    scope TEXT NOT NULL,
    day TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    cost REAL NOT NULL,
    modified_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, day)
);
CREATE TABLE IF NOT EXISTS audit (
    tenant_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    entry_id TEXT NOT NULL,
    at TEXT NOT NULL,
    doc TEXT NOT NULL,
    modified_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at, tenant_id, seq);
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    period_start TEXT NOT NULL,
    doc TEXT NOT NULL,
    modified_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS reports_by_kind ON reports (kind, period_start DESC, id DESC);
CREATE INDEX IF NOT EXISTS reports_by_period ON reports (period_start DESC, id DESC);
"""

# Each table's columns, in the order of `row`, and its primary key.
_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "runs": (("run_id", "tenant_id", "created_at", "doc"), ("run_id",)),
    "items": (
        ("run_id", "idx", "status", "prompt_tokens", "completion_tokens", "cost", "doc"),
        ("run_id", "idx"),
    ),
    "threads": (("thread_id", "doc"), ("thread_id",)),
    "cache": (("key", "expires_at", "doc"), ("key",)),
    "usage": (("scope", "day", "tokens", "cost"), ("scope", "day")),
    "audit": (("tenant_id", "seq", "entry_id", "at", "doc"), ("tenant_id", "seq")),
    "reports": (("id", "kind", "period_start", "doc"), ("id",)),
}


# Milliseconds since the epoch by SQLite's clock; one value per statement.
NOW_MS = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000) AS INTEGER)"


def _insert(table: str, verb: str, tail: str = "") -> str:
    columns = _COLUMNS[table][0]
    marks = ", ".join("?" * len(columns))
    return (
        f"{verb} INTO {table} ({', '.join(columns)}, modified_at) VALUES ({marks}, {NOW_MS}){tail}"
    )


def _on_conflict_update(table: str) -> str:
    columns, key = _COLUMNS[table]
    sets = ", ".join(f"{c} = excluded.{c}" for c in (*columns, "modified_at") if c not in key)
    return f" ON CONFLICT ({', '.join(key)}) DO UPDATE SET {sets}"


def migrate(conn: sqlite3.Connection) -> None:
    """Bring a database made by an earlier version up to `SCHEMA`, then add what depends on the
    new columns. Rows from before `modified_at` existed keep 0 (older than any backup's
    watermark): the next full backup holds them, as it holds every row."""
    for table in _COLUMNS:
        present = {found[1] for found in conn.execute(f"PRAGMA table_info({table})")}
        if "modified_at" not in present:
            try:
                conn.execute(
                    f"ALTER TABLE {table} ADD COLUMN modified_at INTEGER NOT NULL DEFAULT 0"
                )
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise
        conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_by_modified ON {table} (modified_at)")


# Restore: a document replaces whatever row holds its key.
UPSERT_SQL = {table: _insert(table, "INSERT OR REPLACE") for table in _COLUMNS}
# Idempotent creation: an existing row wins.
INSERT_NEW_SQL = {table: _insert(table, "INSERT OR IGNORE") for table in _COLUMNS}
# Strict creation: an existing row is an IntegrityError.
INSERT_SQL = {table: _insert(table, "INSERT") for table in _COLUMNS}
# A changed document: updated in place, so the row keeps its place in a backup scan.
WRITE_SQL = {table: _insert(table, "INSERT", _on_conflict_update(table)) for table in _COLUMNS}


def dumps(doc: dict[str, Any]) -> str:
    # pydantic-core's encoder: the text of json.dumps(separators=(",", ":"), ensure_ascii=False)
    # at a quarter of the cost (a float may be spelled otherwise, 1e-05 as 0.00001: the same
    # number; NaN and infinities as json.dumps spells them). Documents come from `to_doc`.
    return to_json(doc, inf_nan_mode="constants").decode()


def loads(text: str | bytes) -> Any:
    """A stored document (also one that json.dumps wrote), at a quarter of json.loads' cost."""
    return from_json(text)


def row(table: str, doc: dict[str, Any]) -> tuple[Any, ...]:
    """How a document of each collection becomes a row (restore and normal writes share it)."""
    match table:
        case "runs":
            return (doc["run_id"], doc["tenant_id"], doc["created_at"], dumps(doc))
        case "items":
            usage = doc.get("usage") or {}
            return (
                doc["run_id"],
                int(doc["index"]),
                doc["status"],
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
                float(doc.get("cost", 0.0)),
                dumps(doc),
            )
        case "threads":
            return (doc["thread_id"], dumps(doc))
        case "cache":
            return (doc["key"], doc["expires_at"], dumps(doc))
        case "usage":
            return (doc["scope"], doc["day"], int(doc["tokens"]), float(doc["cost"]))
        case "audit":
            return (doc["tenant_id"], int(doc["seq"]), doc["entry_id"], doc["at"], dumps(doc))
        case "reports":
            return (doc["id"], doc["kind"], doc["period_start"], dumps(doc))
    raise ValueError(f"unknown collection {table!r}")
