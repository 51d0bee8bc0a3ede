"""What only the SQLite adapter promises: WAL, a free event loop, two processes on one file."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from agentops.store import ItemOutcome, StoreError
from agentops.store.errors import StoreUnavailableError
from agentops.store.sqlite import SqliteStore
from tests.agentops.store.conftest import REPO, FakeClock
from tests.agentops.store.samples import ALICE, make_run, msgs

CHILD = """
import asyncio, sys
from pathlib import Path
from agentops.store import ItemOutcome
from agentops.store.sqlite import SqliteStore

async def main():
    async with SqliteStore(Path(sys.argv[1]), busy_timeout_s=30) as store:
        print("ready", flush=True)
        sys.stdin.readline()
        won = 0
        for index in range(int(sys.argv[2])):
            won += await store.complete_item("run-1", index, ItemOutcome.completed("child"))
        print(won, flush=True)

asyncio.run(main())
"""


async def test_two_processes_complete_each_item_once(tmp_path: Path):
    path = tmp_path / "shared.db"
    count = 300
    async with SqliteStore(path, busy_timeout_s=30) as store:
        await store.add_items("run-1", [f"q{i}" for i in range(count)])
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            str(path),
            str(count),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        try:
            assert (await child.stdout.readline()).decode().strip() == "ready"
            child.stdin.write(b"go\n")
            await child.stdin.drain()
            won = 0
            for index in reversed(range(count)):  # from the other end, to meet in the middle
                won += await store.complete_item("run-1", index, ItemOutcome.completed("parent"))
            out, _ = await asyncio.wait_for(child.communicate(), timeout=60)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        assert child.returncode == 0
        child_won = int(out.decode().strip())
        assert won + child_won == count
        counts = (await store.item_totals("run-1")).counts
        assert counts.completed == count and counts.pending == 0
        answers = {item.answer for item in (await store.list_items("run-1", limit=count))[0]}
        assert answers <= {"parent", "child"}


async def test_event_loop_keeps_running_during_a_large_write(tmp_path: Path):
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async with SqliteStore(tmp_path / "s.db") as store:
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        ticks = 0
        await store.add_items("run-1", [f"query {i}" for i in range(20_000)])
        done.set()
        await task
    # A blocking call would leave the ticker no turn at all while the insert ran.
    assert ticks > 10


async def test_file_is_in_wal_mode_and_survives_reopening(tmp_path: Path):
    path = tmp_path / "s.db"
    async with SqliteStore(path) as store:
        await store.add_items("run-1", ["q"])
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    async with SqliteStore(path) as store:
        assert ((await store.item_totals("run-1")).counts).pending == 1


async def test_expired_cache_rows_are_purged(tmp_path: Path):
    clock = FakeClock()
    async with SqliteStore(tmp_path / "s.db", clock=clock) as store:
        await store.cache_put("old", {"v": 1}, ttl_s=1)
        clock.advance(5)
        assert await store.cache_get("old") is None
        assert [d async for d in store.iter_collection("cache")] == []  # deleted on read
        for n in range(300):  # a bulk purge runs every few hundred writes
            await store.cache_put(f"k{n}", {"v": n}, ttl_s=1)
            clock.advance(2)
        remaining = [d async for d in store.iter_collection("cache")]
        assert 0 < len(remaining) < 300


async def test_closed_store_refuses_work(tmp_path: Path):
    store = SqliteStore(tmp_path / "s.db")
    await store.add_items("run-1", ["q"])
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreError):
        await store.item_totals("run-1")


async def test_a_file_locked_beyond_the_timeout_is_a_retryable_error(tmp_path: Path):
    path = tmp_path / "s.db"
    async with SqliteStore(path, busy_timeout_s=0.05) as store:
        await store.add_items("run-1", ["q"])
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
            with pytest.raises(StoreUnavailableError):
                await store.complete_item("run-1", 0, ItemOutcome.completed("a"))
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert await store.complete_item("run-1", 0, ItemOutcome.completed("a")) is True


async def test_a_backup_scan_sees_a_run_updated_during_it_once(tmp_path: Path):
    # Changed documents are updated in place: a replaced row would move to the end of the
    # rowid order and be read a second time by the scan that had already passed it.
    async with SqliteStore(tmp_path / "s.db") as store:
        for n in range(600):  # more than one scan page
            await store.create_run(make_run(f"run-{n:03d}"))
        seen = []
        async for doc in store.iter_collection("runs"):
            if not seen:
                await store.update_run(doc["run_id"], status="running")
                await store.append_messages("t-1", ALICE, msgs("a"), max_messages=5)
            seen.append(doc["run_id"])
        assert len(seen) == len(set(seen)) == 600


async def test_a_database_from_before_modification_times_is_migrated(tmp_path: Path):
    """Rows written before `modified_at` existed count as unmodified since the epoch: a full
    scan has them, an incremental one does not, until they are written again."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE threads (thread_id TEXT PRIMARY KEY, doc TEXT NOT NULL);"
            "CREATE TABLE usage (scope TEXT NOT NULL, day TEXT NOT NULL, tokens INTEGER NOT NULL,"
            " cost REAL NOT NULL, PRIMARY KEY (scope, day));"
        )
        conn.execute(
            "INSERT INTO usage VALUES ('tenant:acme', '2026-11-26', 15, 0.01)",
        )
    since = datetime(2026, 1, 1, tzinfo=UTC)
    async with SqliteStore(path) as store:
        assert len([d async for d in store.iter_collection("usage")]) == 1
        assert [d async for d in store.iter_collection("usage", since=since)] == []
        await store.add_usage("tenant:acme", date(2026, 11, 26), 5, 0.01)
        found = [d async for d in store.iter_collection("usage", since=since)]
        assert [d["tokens"] for d in found] == [20]
    with sqlite3.connect(path) as conn:
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(usage)")}
    assert "usage_by_modified" in indexes
    # Opening again finds the column there and changes nothing.
    async with SqliteStore(path) as store:
        assert len([d async for d in store.iter_collection("usage", since=since)]) == 1


async def test_an_incremental_scan_pages_past_rows_rewritten_during_it(tmp_path: Path):
    async with SqliteStore(tmp_path / "s.db") as store:
        await store.create_run(make_run("run-1", "acme", total=1200))
        await store.add_items("run-1", [f"q{i}" for i in range(1200)])
        since = datetime(2026, 1, 1, tzinfo=UTC)
        seen: list[int] = []
        last: dict[int, str] = {}
        async for doc in store.iter_collection("items", since=since):
            seen.append(doc["index"])
            last[doc["index"]] = doc["status"]
            if len(seen) == 10:  # rewritten behind and ahead of the cursor
                await store.complete_item("run-1", 3, ItemOutcome.completed("a"))
                await store.complete_item("run-1", 900, ItemOutcome.completed("b"))
        assert set(seen) == set(range(1200))
        # Item 3, already read, is read again; item 900 is read once, in its new state.
        assert seen.count(3) == 2 and seen.count(900) == 1
        assert last[3] == last[900] == "completed"


async def test_documents_read_and_written_by_the_json_module_stay_the_same(tmp_path: Path):
    """Files written when documents were encoded with json.dumps read the same, and what is
    written now reads the same with json.loads (backups, other tools)."""
    import json

    from agentops.store import Item

    path = tmp_path / "s.db"
    async with SqliteStore(path) as store:
        await store.add_items("run-1", ["placeholder"])
    old = Item("run-1", 0, 'Größe 東京 \u2028 "quoted" \x01').to_doc()
    with sqlite3.connect(path) as conn:  # as an earlier version wrote it
        conn.execute(
            "UPDATE items SET doc = ? WHERE run_id = 'run-1' AND idx = 0",
            (json.dumps(old, separators=(",", ":"), ensure_ascii=False),),
        )
    async with SqliteStore(path) as store:
        assert (await store.get_items("run-1", [0]))[0].query == old["query"]
        outcome = ItemOutcome.completed("ünïcode \U0001f600", cost=1e-05)
        assert await store.complete_item("run-1", 0, outcome)
        item = (await store.get_items("run-1", [0]))[0]
    with sqlite3.connect(path) as conn:
        stored = json.loads(conn.execute("SELECT doc FROM items").fetchone()[0])
    assert stored == item.to_doc()
    assert (stored["query"], stored["answer"], stored["cost"]) == (
        old["query"],
        outcome.answer,
        1e-05,
    )
