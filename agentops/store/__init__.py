"""State store: one port per stored thing, the records, and the SQLite and Cosmos DB adapters.

The composition root picks an adapter from settings; import `SqliteStore` from
`agentops.store.sqlite` and `CosmosStore` from `agentops.store.cosmos` there, so that the SQLite
path never imports the Azure SDK.
"""

from agentops.store.containers import COLLECTIONS, CONTAINERS, ContainerSpec
from agentops.store.errors import AuditConflictError, ConcurrencyError, StoreError
from agentops.store.ports import (
    AuditStore,
    CacheStore,
    CollectionStore,
    ReportStore,
    RunStore,
    Store,
    ThreadStore,
    UsageStore,
)
from agentops.store.records import (
    AuditEntry,
    Item,
    ItemCounts,
    ItemError,
    ItemOutcome,
    ItemStatus,
    ItemTotals,
    Message,
    Page,
    ReportRecord,
    Run,
    RunStatus,
    Thread,
    ThreadOwner,
    Usage,
)

__all__ = [
    "COLLECTIONS",
    "CONTAINERS",
    "AuditConflictError",
    "AuditEntry",
    "AuditStore",
    "CacheStore",
    "CollectionStore",
    "ConcurrencyError",
    "ContainerSpec",
    "Item",
    "ItemCounts",
    "ItemError",
    "ItemOutcome",
    "ItemStatus",
    "ItemTotals",
    "Message",
    "Page",
    "ReportRecord",
    "ReportStore",
    "Run",
    "RunStatus",
    "RunStore",
    "Store",
    "StoreError",
    "Thread",
    "ThreadOwner",
    "ThreadStore",
    "Usage",
    "UsageStore",
]
