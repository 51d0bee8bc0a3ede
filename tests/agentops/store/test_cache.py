"""The store contract for the response cache.

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations


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
