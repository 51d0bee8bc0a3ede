"""The store contract for collections (backup and restore).

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

from datetime import date

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
