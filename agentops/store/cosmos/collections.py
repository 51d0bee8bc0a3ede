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

    async def iter_collection(
        self, name: str, *, since: datetime | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        container = await self._db.container(name)
        if since is None:
            pages = container.read_all_items()
        else:
            # `_ts` is in whole seconds, rounded down: a document written within the second
            # of `since` counts as at or after it.
            pages = container.query_items(
                "SELECT * FROM c WHERE c._ts >= @since",
                parameters=[{"name": "@since", "value": math.floor(since.timestamp())}],
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
