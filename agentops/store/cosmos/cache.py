"""The response cache in Cosmos DB: partition `/key`, id = key.

Point reads and upserts; TTL is on (default -1) and every entry carries its own `ttl`, so Cosmos
DB deletes expired entries. Reads also compare `expires_at` with the store's clock, so an entry
is a miss from the moment it expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from agentops.store.cosmos.connection import CosmosConnection, remote
from agentops.store.records import cache_doc, dt_from_doc


class CosmosCacheStore:
    def __init__(self, connection: CosmosConnection) -> None:
        self._db = connection

    @remote
    async def cache_get(self, key: str) -> dict[str, Any] | None:
        doc = await self._db.read("cache", key, key)
        if doc is None:
            return None
        expires_at = dt_from_doc(doc.get("expires_at"))
        if expires_at is None or expires_at <= self._db.now():
            return None  # Cosmos DB deletes it in the background
        return dict(doc["value"])

    @remote
    async def cache_get_many(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        container = await self._db.container("cache")
        # ReadMany: point reads by (id, partition key) in one call, no cross-partition query.
        docs = await container.read_items([(key, key) for key in keys])
        now = self._db.now()
        found: dict[str, dict[str, Any]] = {}
        for doc in docs:
            expires_at = dt_from_doc(doc.get("expires_at"))
            if expires_at is not None and expires_at > now:
                found[doc["key"]] = dict(doc["value"])
        return found

    @remote
    async def cache_put(self, key: str, value: dict[str, Any], ttl_s: int) -> None:
        """Upsert; also how an item's answer is stored, after its outcome (see `CosmosRunStore`)."""
        container = await self._db.container("cache")
        now = self._db.now()
        await container.upsert_item(cache_doc(key, value, now + timedelta(seconds=ttl_s), ttl_s))
