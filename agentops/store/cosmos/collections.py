"""Whole containers as documents, for backups and restores: read feeds and upserts."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError

from agentops.store.cosmos.connection import (
    MAX_CONCURRENCY,
    CosmosConnection,
    remote,
    strip,
    translate,
)


class CosmosCollectionStore:
    def __init__(self, connection: CosmosConnection) -> None:
        self._db = connection

    @remote
    async def collection_ranges(
        self, name: str, *, since: datetime | None = None, target_docs: int
    ) -> list[dict[str, Any]]:
        """The container's feed ranges, one per physical partition (Cosmos DB splits a
        partition as it grows, so the number follows the data); `since` and `target_docs` do
        not change them. A server with one partition has one range."""
        if target_docs < 1:
            raise ValueError("target_docs is at least 1")
        container = await self._db.container(name)
        return [{"feed_range": found} async for found in container.read_feed_ranges()]

    async def iter_collection(
        self,
        name: str,
        *,
        since: datetime | None = None,
        key_range: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        container = await self._db.container(name)
        scope: dict[str, Any] = {}
        if key_range is not None:
            feed_range = key_range.get("feed_range") if len(key_range) == 1 else None
            if not isinstance(feed_range, dict):
                raise ValueError("a Cosmos DB key range is {'feed_range': <a feed range>}")
            scope["feed_range"] = feed_range
        if since is None and not scope:
            pages = container.read_all_items()
        elif since is None:
            pages = container.query_items("SELECT * FROM c", **scope)
        else:
            # `_ts` is in whole seconds, rounded down: a document written within the second
            # of `since` counts as at or after it.
            pages = container.query_items(
                "SELECT * FROM c WHERE c._ts >= @since",
                parameters=[{"name": "@since", "value": math.floor(since.timestamp())}],
                **scope,
            )
        try:
            async for doc in pages:
                yield strip(doc)
        except AzureError as exc:
            raise translate(exc) from exc

    @remote
    async def restore_documents(self, name: str, docs: Iterable[dict[str, Any]]) -> int:
        container = await self._db.container(name)
        batch = [strip(doc) for doc in docs]
        for doc in batch:
            if not isinstance(doc.get("id"), str):
                raise ValueError(f"a {name} document has no string id")
        limiter = asyncio.Semaphore(MAX_CONCURRENCY)

        async def upsert(doc: dict[str, Any]) -> None:
            async with limiter:
                await container.upsert_item(doc)

        await asyncio.gather(*(upsert(doc) for doc in batch))
        return len(batch)
