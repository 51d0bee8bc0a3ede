"""The port of whole collections as documents: what backups read and restores write.

Documents have the shape of `records` (`to_doc`), the same on every adapter, so a backup taken
from one adapter restores into another. These are the only scans across partitions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, Protocol


class CollectionStore(Protocol):
    def iter_collection(self, name: str) -> AsyncIterator[dict[str, Any]]:
        """Every document of a collection, as stored (no system properties)."""
        ...

    async def restore_documents(self, name: str, docs: Iterable[dict[str, Any]]) -> int:
        """Upsert documents from `iter_collection` output; returns how many."""
        ...
