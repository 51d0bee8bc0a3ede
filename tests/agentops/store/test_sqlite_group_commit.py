"""Writes that wait together share one SQLite transaction, each as atomic as alone.

See agentops/store/sqlite/group_commit.py: the writes queued while the store's thread is busy,
or made in the same turn of the event loop, commit together; a write that fails fails alone.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentops.store import ItemStatus
from agentops.store.errors import StoreUnavailableError
from agentops.store.records import CacheEntry
from agentops.store.sqlite import SqliteStore
from agentops.store.sqlite.connection import SqliteConnection
from tests.agentops.store.samples import answer, make_run


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with SqliteStore(tmp_path / "s.db") as opened:
        await opened.create_run(make_run(total=40))
        await opened.add_items("run-1", [f"q{n}" for n in range(40)])
        yield opened


def connection(store: SqliteStore) -> SqliteConnection:
    db = store._parts.connection
    assert isinstance(db, SqliteConnection)
    return db


async def traced(store: SqliteStore) -> list[str]:
    """The statements the store's connection runs from now on."""
    statements: list[str] = []
    await connection(store).call(lambda conn: conn.set_trace_callback(statements.append))
    return statements


def entry(n: int) -> CacheEntry:
    return CacheEntry(f"p:key-{n}", {"text": f"a{n}", "expires_at": 9e9}, 3600)


async def test_writes_made_in_one_turn_commit_together(store: SqliteStore) -> None:
    statements = await traced(store)
    moved = await asyncio.gather(
        *(store.complete_item("run-1", n, answer(f"a{n}"), entry(n)) for n in range(20))
    )
    assert moved == [True] * 20
    assert statements.count("BEGIN IMMEDIATE") == statements.count("COMMIT") == 1
    items = await store.get_items("run-1", range(20))
    assert [item.answer for item in items] == [f"a{n}" for n in range(20)]
    found = await store.cache_get_many([entry(n).key for n in range(20)])
    assert len(found) == 20


async def test_writes_queued_while_the_thread_commits_form_the_next_group(
    store: SqliteStore,
) -> None:
    db = connection(store)
    statements = await traced(store)
    entered, release = threading.Event(), threading.Event()

    def slow(conn: sqlite3.Connection) -> str:
        entered.set()
        release.wait(10)
        return "slow"

    first = asyncio.create_task(db.write(slow))
    await asyncio.to_thread(entered.wait, 10)  # its group is on the thread
    rest = [
        asyncio.create_task(store.complete_item("run-1", n, answer(), entry(n))) for n in range(10)
    ]
    await asyncio.sleep(0)
    release.set()
    assert await first == "slow"
    assert await asyncio.gather(*rest) == [True] * 10
    assert statements.count("COMMIT") == 2  # the slow one's, then one for the ten


async def test_a_failing_write_fails_alone_and_the_others_commit(store: SqliteStore) -> None:
    results = await asyncio.gather(
        store.complete_item("run-1", 0, answer("a0"), entry(0)),
        store.complete_item("run-1", 99, answer("lost"), entry(99)),  # no such item
        store.complete_item("run-1", 1, answer("a1"), entry(1)),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], KeyError)
    items = await store.get_items("run-1", [0, 1])
    assert [item.status for item in items] == [ItemStatus.COMPLETED] * 2
    # The failed write's cache entry went with it; the others' entries are there.
    found = await store.cache_get_many([entry(n).key for n in (0, 1, 99)])
    assert sorted(found) == [entry(0).key, entry(1).key]


async def test_a_write_that_fails_halfway_leaves_nothing_of_itself(store: SqliteStore) -> None:
    db = connection(store)

    def insert(scope: str, fail: bool = False):
        def op(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT INTO usage (scope, day, tokens, cost) VALUES (?, '2026-11-26', 1, 0)",
                (scope,),
            )
            if fail:
                raise ValueError("after its first statement")
            return scope

        return op

    results = await asyncio.gather(
        db.write(insert("a")),
        db.write(insert("b", fail=True)),
        db.write(insert("c")),
        return_exceptions=True,
    )
    assert results[0] == "a" and results[2] == "c" and isinstance(results[1], ValueError)
    scopes = await db.call(lambda conn: conn.execute("SELECT scope FROM usage").fetchall())
    assert sorted(scope for (scope,) in scopes) == ["a", "c"]


async def test_a_disk_full_write_is_retryable_and_does_not_fail_its_group(
    store: SqliteStore,
) -> None:
    db = connection(store)
    pages = await db.call(lambda conn: conn.execute("PRAGMA page_count").fetchone()[0])
    await db.call(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages + 40}"))
    big = CacheEntry("p:big", {"text": "x" * 1_000_000, "expires_at": 9e9}, 3600)
    results = await asyncio.gather(
        store.complete_item("run-1", 0, answer("a0"), entry(0)),
        store.complete_item("run-1", 1, answer("a1"), big),  # more than the file may grow
        store.complete_item("run-1", 2, answer("a2"), entry(2)),
        return_exceptions=True,
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], StoreUnavailableError)
    items = await store.get_items("run-1", [0, 1, 2])
    assert [item.status for item in items] == ["completed", "pending", "completed"]
    # The item whose write failed is still pending: a later execution completes it.
    assert await store.complete_item("run-1", 1, answer("a1"), entry(1)) is True


async def test_a_write_canceled_before_its_group_starts_writes_nothing(
    store: SqliteStore,
) -> None:
    task = asyncio.create_task(store.complete_item("run-1", 0, answer(), entry(0)))
    await asyncio.sleep(0)  # queued; its group starts on the next turn
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await store.get_items("run-1", [0]))[0].status is ItemStatus.PENDING
    assert await store.cache_get(entry(0).key) is None


async def test_close_finishes_the_writes_it_accepted(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    await store.add_items("run-1", ["q0", "q1", "q2"])
    tasks = [asyncio.create_task(store.complete_item("run-1", n, answer())) for n in range(3)]
    await asyncio.sleep(0)
    await store.close()
    assert await asyncio.gather(*tasks) == [True] * 3
    assert connection(store)._conn is None  # not opened again behind the close
    async with SqliteStore(path) as reopened:
        assert (await reopened.item_totals("run-1")).counts.completed == 3


async def test_a_write_from_another_event_loop_commits_beside_this_loops_group(
    store: SqliteStore,
) -> None:
    db = connection(store)
    entered, release = threading.Event(), threading.Event()

    def slow(conn: sqlite3.Connection) -> bool:
        entered.set()
        release.wait(10)
        return True

    mine = asyncio.create_task(db.write(slow))
    await asyncio.to_thread(entered.wait, 10)

    async def from_another_loop() -> bool:
        other = asyncio.create_task(store.complete_item("run-1", 5, answer("other")))
        await asyncio.sleep(0)  # queued behind this loop's group, on the same thread
        release.set()
        return await other

    assert await asyncio.to_thread(asyncio.run, from_another_loop()) is True
    assert await mine is True
    assert (await store.get_items("run-1", [5]))[0].answer == "other"
