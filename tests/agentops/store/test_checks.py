"""The store contract for argument checks: refused the same way on every adapter, before any I/O.

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, date, datetime

import pytest

from agentops.store import (
    ItemOutcome,
    ItemStatus,
    ThreadOwner,
)
from agentops.store.checks import decode_cursor, keyset_after, page_of
from tests.agentops.store.samples import ALICE, make_run, msgs


@pytest.mark.parametrize("bad_id", ["", "a/b", "a#b", "a?b", "a\\b", "x" * 256])
async def test_bad_keys_are_refused_before_any_write(store, bad_id):
    with pytest.raises(ValueError):
        await store.create_run(make_run(run_id=bad_id))
    with pytest.raises(ValueError):
        await store.add_items(bad_id, ["q"])
    with pytest.raises(ValueError):
        await store.cache_put(bad_id, {"v": 1}, ttl_s=5)
    with pytest.raises(ValueError):
        await store.add_usage(bad_id, date(2026, 11, 26), 1, 0.0)
    assert (await store.list_runs(None)).items == []
    assert [doc async for doc in store.iter_collection("cache")] == []


async def test_bad_arguments_are_refused(store):
    await store.add_items("run-1", ["q"])
    with pytest.raises(TypeError):
        await store.add_items("run-1", "not a list")
    with pytest.raises(ValueError):
        await store.list_items("run-1", limit=0)
    with pytest.raises(ValueError):
        await store.list_items("run-1", after_index=-2)
    with pytest.raises(ValueError):
        await store.list_runs("acme", continuation="garbage!")
    with pytest.raises(ValueError):
        await store.cache_put("k", {"v": 1}, ttl_s=0)
    with pytest.raises(ValueError):
        await store.add_usage("tenant:acme", date(2026, 11, 26), -1, 0.0)
    with pytest.raises(TypeError):
        await store.add_usage("tenant:acme", datetime(2026, 11, 26, tzinfo=UTC), 1, 0.0)
    with pytest.raises(ValueError):
        await store.append_messages("t-1", ALICE, msgs("a"), max_messages=0)
    with pytest.raises(TypeError):
        await store.append_messages("t-1", "acme", msgs("a"), max_messages=10)
    with pytest.raises(ValueError):
        await store.append_messages(
            "t-1", ThreadOwner("acme", "", "calc"), msgs("a"), max_messages=10
        )
    with pytest.raises(ValueError):
        ItemOutcome(ItemStatus.PENDING)
    assert await store.get_thread("t-1") is None
    assert await store.get_usage("tenant:acme", date(2026, 11, 26)) == (0, 0.0)


@pytest.mark.parametrize("descending", [False, True])
def test_keyset_after_matches_tuple_order_on_every_row(descending: bool) -> None:
    rows = list(itertools.product("ab", (1, 2), ("x", "y")))
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a TEXT, b INTEGER, c TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    for mark in rows:
        condition, params = keyset_after(("a", "b", "c"), mark, ":", descending=descending)
        found = set(conn.execute(f"SELECT a, b, c FROM t WHERE {condition}", params).fetchall())
        assert found == {r for r in rows if (r < mark if descending else r > mark)}


def test_page_of_keeps_limit_and_points_the_cursor_at_the_last_kept() -> None:
    docs = [{"at": f"t{i}", "id": str(i)} for i in range(4)]
    page = page_of(docs, 3, ("at", "id"), lambda doc: doc["id"])
    assert page.items == ["0", "1", "2"]
    assert page.continuation and decode_cursor(page.continuation, 2) == ["t2", "2"]
    assert page_of(docs[:3], 3, ("at", "id"), lambda doc: doc["id"]).continuation is None
