"""Several writes in one SQLite transaction, each as atomic as if it had its own.

The store's thread runs every write that is waiting when it gets to them in one `BEGIN IMMEDIATE
... COMMIT` (see `SqliteConnection.write`). A commit is most of a small write's cost: it appends
every page the transaction touched (the row, each index) to the WAL, so eight writes that share
a commit cost about half of eight commits. A write that raises gets its exception and the
others still commit (see `commit_group`).

No write waits for another to join it: a group is only what was already waiting, so a crash
loses nothing that separate transactions would have kept, and every caller learns its result
only once the group is committed. Whatever a write commits with (an item's outcome and its
answer's cache entry) stays in that one write, so grouping never splits it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

type Write = Callable[[sqlite3.Connection], Any]


class Outcome:
    """One write's result, or the exception that rolled it back."""

    __slots__ = ("error", "value")

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error


def commit_group(conn: sqlite3.Connection, writes: Sequence[Write]) -> list[Outcome]:
    """Run `writes` in one transaction, in order.

    When one raises, the group is rolled back and each write runs again in a transaction of its
    own, so a failing write fails alone (rare: a missing item, a conflicting thread version).
    That is cheaper on the common path than a savepoint per write, which costs about as much
    as the write itself; it asks of a write only that it can run again after a rollback, which
    a function of the database's state (all of them: read, change, write) can.
    Raises (and commits nothing) only for a lone write, or when the commit itself fails.
    """
    if len(writes) == 1:
        return [Outcome(_alone(conn, writes[0]))]
    conn.execute("BEGIN IMMEDIATE")
    try:
        values = [write(conn) for write in writes]
    except Exception:
        if conn.in_transaction:  # SQLite may have rolled back itself (disk full, I/O error)
            conn.execute("ROLLBACK")
        return [_each_alone(conn, write) for write in writes]
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    _commit(conn)
    return [Outcome(value) for value in values]


def _alone(conn: sqlite3.Connection, write: Write) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        value = write(conn)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    _commit(conn)
    return value


def _each_alone(conn: sqlite3.Connection, write: Write) -> Outcome:
    try:
        return Outcome(_alone(conn, write))
    except Exception as exc:
        return Outcome(error=exc)


def _commit(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
