"""State store: the repository port, its records, and the SQLite and Cosmos DB adapters.

The composition root picks an adapter from settings; import `SqliteStore` from
`agentops.store.sqlite` and `CosmosStore` from `agentops.store.cosmos` there, so that the SQLite
path never imports the Azure SDK.
"""

from agentops.store.containers import COLLECTIONS, CONTAINERS, ContainerSpec
from agentops.store.errors import AuditConflictError, ConcurrencyError, StoreError
from agentops.store.port import Store
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
    Run,
    RunStatus,
    Thread,
    ThreadOwner,
)

__all__ = [
    "COLLECTIONS",
    "CONTAINERS",
    "AuditConflictError",
    "AuditEntry",
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
    "Run",
    "RunStatus",
    "Store",
    "StoreError",
    "Thread",
    "ThreadOwner",
]
