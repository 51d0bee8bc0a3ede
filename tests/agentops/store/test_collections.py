"""The store contract for collections (backup and restore).

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime

import pytest

from agentops.store import (
    COLLECTIONS,
)
from tests.agentops.store.samples import ALICE, answer, audit, make_run, msgs, report


async def fill(store) -> None:
    await store.create_run(make_run())
    await store.add_items("run-1", ["a", "b", "c"])
    await store.complete_item("run-1", 1, answer())
    await store.append_messages("t-1", ALICE, msgs("hi", "hello"), max_messages=10)
    await store.cache_put("k1", {"v": 1}, ttl_s=3600)
    await store.add_usage("tenant:acme", date(2026, 11, 26), 15, 0.01)
    await store.append_audit(audit(0))
    await store.put_report(report(0))


async def snapshot(store) -> dict[str, list[dict]]:
    result = {}
    for name in COLLECTIONS:
        docs = [doc async for doc in store.iter_collection(name)]
        result[name] = sorted(docs, key=lambda d: (str(d.get("id")), str(sorted(d.items()))))
    return result


async def test_iter_and_restore_round_trip(store_factory):
    source = await store_factory()
    await fill(source)
    before = await snapshot(source)
    assert {name: len(docs) for name, docs in before.items()} == {
        "runs": 1,
        "items": 3,
        "threads": 1,
        "cache": 1,
        "usage": 1,
        "audit": 1,
        "reports": 1,
    }
    target = await store_factory()
    for name, docs in before.items():
        assert await target.restore_documents(name, docs) == len(docs)
    assert await snapshot(target) == before
    # Restored data behaves like the original, not just looks like it.
    assert await target.get_run("run-1") == await source.get_run("run-1")
    assert await target.complete_item("run-1", 1, answer()) is False
    assert await target.complete_item("run-1", 0, answer()) is True
    assert await target.cache_get("k1") == {"v": 1}
    assert await target.last_audit("acme") == audit(0)
    assert await target.get_report(report(0).id) == report(0)
    # Restoring twice is an upsert, not a duplicate.
    await target.restore_documents("items", before["items"])
    assert ((await target.item_totals("run-1")).counts).total == 3


async def test_unknown_collection_is_refused(store):
    with pytest.raises(ValueError, match="unknown collection"):
        await store.restore_documents("secrets", [{"id": "x"}])
    with pytest.raises(ValueError, match="unknown collection"):
        [doc async for doc in store.iter_collection("secrets")]


async def _next_second() -> datetime:
    """Sleep into a fresh whole second (Cosmos DB's `_ts` resolution), then return the time."""
    now = datetime.now(UTC)
    await asyncio.sleep(1.05 - now.microsecond / 1e6)
    return datetime.now(UTC)


async def test_since_selects_what_was_written_at_or_after_it(store):
    await fill(store)
    since = await _next_second()
    # A new document in each of several collections, and rewrites of existing ones.
    await store.create_run(make_run("run-2", total=1))
    await store.add_items("run-2", ["d"])
    await store.complete_item("run-1", 0, answer("changed"))
    await store.add_usage("tenant:acme", date(2026, 11, 26), 5, 0.01)
    await store.append_audit(audit(1))
    await store.cache_put("k2", {"v": 2}, ttl_s=3600)
    changed = {
        name: sorted(
            [json.dumps(d, sort_keys=True) async for d in store.iter_collection(name, since=since)]
        )
        for name in COLLECTIONS
    }
    everything = await snapshot(store)
    assert {name: len(docs) for name, docs in changed.items()} == {
        "runs": 1,
        "items": 2,
        "threads": 0,
        "cache": 1,
        "usage": 1,
        "audit": 1,
        "reports": 0,
    }
    for name, docs in changed.items():  # the same documents as a full scan shows
        full = {json.dumps(doc, sort_keys=True) for doc in everything[name]}
        assert set(docs) <= full
    items = [json.loads(doc) for doc in changed["items"]]
    assert sorted((doc["run_id"], doc["index"]) for doc in items) == [("run-1", 0), ("run-2", 0)]
    # A bound after every write selects nothing; no bound at all selects everything.
    later = await _next_second()
    assert [doc async for doc in store.iter_collection("items", since=later)] == []
    assert len([doc async for doc in store.iter_collection("items")]) == 4


async def test_since_must_be_timezone_aware(store):
    with pytest.raises(ValueError, match="timezone-aware"):
        [doc async for doc in store.iter_collection("runs", since=datetime(2026, 1, 1))]


async def _in_ranges(store, name: str, ranges: list[dict], since=None) -> list[str]:
    found = []
    for key_range in ranges:
        json.dumps(key_range)  # tokens travel as activity inputs
        async for doc in store.iter_collection(name, since=since, key_range=key_range):
            found.append(json.dumps(doc, sort_keys=True))
    return found


async def test_ranges_cover_every_document_exactly_once(store, backend):
    await store.create_run(make_run("run-1", total=45))
    await store.add_items("run-1", [f"q{i}" for i in range(45)])
    await fill(store)  # and a little of everything else
    for name in COLLECTIONS:
        ranges = await store.collection_ranges(name, target_docs=7)
        everything = sorted(
            [json.dumps(d, sort_keys=True) async for d in store.iter_collection(name)]
        )
        found = await _in_ranges(store, name, ranges)
        assert sorted(found) == everything  # each once: no duplicates, nothing missing
        assert len(set(found)) == len(found)
    items = await store.collection_ranges("items", target_docs=7)
    if backend == "sqlite":
        assert len(items) == 45 // 7 + 1  # about seven each, the last open above
        sizes = [len(await _in_ranges(store, "items", [r])) for r in items]
        assert sizes == [7] * 6 + [3]
    else:
        # Feed ranges follow physical partitions; the local server has exactly one.
        assert len(items) == 1 and "feed_range" in items[0]


async def test_ranges_of_what_changed_and_rows_added_later(store):
    await store.create_run(make_run("run-1", total=30))
    await store.add_items("run-1", [f"q{i}" for i in range(30)])
    since = await _next_second()
    for index in range(0, 30, 3):
        await store.complete_item("run-1", index, answer(f"a{index}"))
    ranges = await store.collection_ranges("items", since=since, target_docs=4)
    changed = await _in_ranges(store, "items", ranges, since=since)
    assert sorted(json.loads(d)["index"] for d in changed) == list(range(0, 30, 3))
    # Rows added after the ranges were taken fall in the last one, open above.
    await store.create_run(make_run("run-2", total=2))
    await store.add_items("run-2", ["x", "y"])
    again = await _in_ranges(store, "items", ranges, since=since)
    assert len(again) == len(changed) + 2


async def test_a_malformed_range_is_refused(store):
    for bad in (
        {"nope": 1},
        {"rowid_after": "1; DROP TABLE runs", "rowid_upto": None},
        {"feed_range": {"x": 1}},
        [],
    ):
        with pytest.raises(ValueError):
            [d async for d in store.iter_collection("runs", key_range=bad)]
