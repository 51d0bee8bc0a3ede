"""The store's ports: one Protocol per stored thing, each naming its partition key.

Consumers ask for the port of the thing they use (`RunStore`, `ThreadStore`, ...). `Store` is
all of them plus the lifecycle: only the composition root, which opens and closes the store,
needs it. Implementations: `SqliteStore` (local default) and `CosmosStore` (Azure); one contract
suite per port runs against both.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from agentops.store.ports.audit import AuditStore
from agentops.store.ports.cache import CacheStore
from agentops.store.ports.collections import CollectionStore
from agentops.store.ports.reports import ReportStore
from agentops.store.ports.runs import RunStore
from agentops.store.ports.threads import ThreadStore
from agentops.store.ports.usage import UsageStore


class Store(
    RunStore,
    ThreadStore,
    UsageStore,
    CacheStore,
    AuditStore,
    CollectionStore,
    ReportStore,
    Protocol,
):
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


__all__ = [
    "AuditStore",
    "CacheStore",
    "CollectionStore",
    "ReportStore",
    "RunStore",
    "Store",
    "ThreadStore",
    "UsageStore",
]
