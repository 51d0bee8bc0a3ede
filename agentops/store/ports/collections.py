"""The port of whole collections as documents: what backups read and restores write.

Documents have the shape of `records` (`to_doc`), the same on every adapter, so a backup taken
from one adapter restores into another. These are the only scans across partitions.

`since` selects by the time of each document's last write, by the store's own clock: Cosmos
DB's `_ts` (whole seconds), SQLite's `modified_at` (milliseconds). Callers that chain scans
(incremental backups) start the next one a margin before the previous one's upper bound, for
clock skew and `_ts` rounding; a document seen twice is harmless because restores upsert.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any, Protocol


class CollectionStore(Protocol):
    async def collection_ranges(
        self, name: str, *, since: datetime | None = None, target_docs: int
    ) -> list[dict[str, Any]]:
        """Range tokens (JSON objects, opaque to callers) that split the collection so that
        each document is in exactly one: Cosmos DB's feed ranges, SQLite's rowid ranges of
        about `target_docs` documents (of those written at or after `since`, when given)."""
        ...

    def iter_collection(
        self,
        name: str,
        *,
        since: datetime | None = None,
        key_range: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every document of a collection, as stored (no system properties); with `since`,
        only those written at or after it; with `key_range` (from `collection_ranges`), only
        those in that range."""
        ...

    async def restore_documents(self, name: str, docs: Iterable[dict[str, Any]]) -> int:
        """Upsert documents from `iter_collection` output; returns how many."""
        ...
