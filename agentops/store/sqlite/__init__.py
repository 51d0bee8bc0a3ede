"""The store in one SQLite file: the local default.

`SqliteStore` opens one connection (connection.py) and one part per port over it (runs.py,
threads.py, usage.py, cache.py, audit.py, collections.py, reports.py); tables.py holds the schema.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from agentops.store.facade import StoreFacade, StoreParts
from agentops.store.sqlite.audit import SqliteAuditStore
from agentops.store.sqlite.cache import SqliteCacheStore
from agentops.store.sqlite.collections import SqliteCollectionStore
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.reports import SqliteReportStore
from agentops.store.sqlite.runs import SqliteRunStore
from agentops.store.sqlite.threads import SqliteThreadStore
from agentops.store.sqlite.usage import SqliteUsageStore


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqliteStore(StoreFacade):
    """Every port on one SQLite file. See connection.py for the locking and threading design."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_s: float = 10.0,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        connection = SqliteConnection(path, busy_timeout_s=busy_timeout_s, clock=clock)
        cache = SqliteCacheStore(connection)
        super().__init__(
            StoreParts(
                connection=connection,
                runs=SqliteRunStore(connection, cache),
                threads=SqliteThreadStore(connection),
                usage=SqliteUsageStore(connection),
                cache=cache,
                audit=SqliteAuditStore(connection),
                collections=SqliteCollectionStore(connection),
                reports=SqliteReportStore(connection),
            )
        )


__all__ = ["SqliteStore"]
