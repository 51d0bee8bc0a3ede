"""The store contract for the response cache.

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

import pytest


async def test_cache_hit_miss_and_expiry(store, clock):
    assert await store.cache_get("k1") is None
    await store.cache_put("k1", {"text": "hello", "usage": [1, 2]}, ttl_s=60)
    assert await store.cache_get("k1") == {"text": "hello", "usage": [1, 2]}
    clock.advance(59)
    assert await store.cache_get("k1") is not None
    clock.advance(1)
    assert await store.cache_get("k1") is None
    # Writing again revives the key with a fresh TTL.
    await store.cache_put("k1", {"text": "again"}, ttl_s=10)
    assert await store.cache_get("k1") == {"text": "again"}


async def test_cache_documents_carry_their_ttl(store):
    await store.cache_put("k1", {"v": 1}, ttl_s=300)
    docs = [doc async for doc in store.iter_collection("cache")]
    assert [(d["key"], d["ttl"]) for d in docs] == [("k1", 300)]


async def test_get_many_reads_what_exists_and_is_unexpired_in_one_call(store, clock):
    await store.cache_put("k1", {"v": 1}, ttl_s=60)
    await store.cache_put("k2", {"v": 2}, ttl_s=10)
    assert await store.cache_get_many([]) == {}
    assert await store.cache_get_many(["k1", "k2", "nope", "k1"]) == {
        "k1": {"v": 1},
        "k2": {"v": 2},
    }
    clock.advance(10)
    assert await store.cache_get_many(["k1", "k2"]) == {"k1": {"v": 1}}


async def test_get_many_takes_more_keys_than_one_statement_holds(store):
    keys = [f"key-{n}" for n in range(1_200)]
    for key in keys[::300]:
        await store.cache_put(key, {"key": key}, ttl_s=60)
    found = await store.cache_get_many(keys)
    assert found == {key: {"key": key} for key in keys[::300]}


async def test_get_many_refuses_a_bad_key_before_any_io(store):
    with pytest.raises(ValueError):
        await store.cache_get_many(["good", "bad/key"])
