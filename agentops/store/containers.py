"""The collections of the store, as data: infrastructure (Bicep) and the test set-up create them.

The application never creates a database or a container at runtime: a Cosmos DB data-plane role
cannot, and the definitions belong with the rest of the infrastructure. `CONTAINERS` is the one
list that both the Bicep module and the contract-test set-up follow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    name: str
    partition_key_path: str
    # None: TTL off. -1: TTL on, documents live until their own `ttl` says otherwise.
    default_ttl: int | None = None
    # Composite indexes needed by ORDER BY on more than one property: ((path, "ascending"), ...).
    composite_indexes: tuple[tuple[tuple[str, str], ...], ...] = ()

    def indexing_policy(self) -> dict[str, object]:
        policy: dict[str, object] = {
            "indexingMode": "consistent",
            "automatic": True,
            "includedPaths": [{"path": "/*"}],
            "excludedPaths": [{"path": '/"_etag"/?'}],
        }
        if self.composite_indexes:
            policy["compositeIndexes"] = [
                [{"path": path, "order": order} for path, order in index]
                for index in self.composite_indexes
            ]
        return policy


RUNS = ContainerSpec(
    "runs",
    "/run_id",
    composite_indexes=(
        (("/tenant_id", "ascending"), ("/created_at", "descending"), ("/id", "descending")),
        (("/created_at", "descending"), ("/id", "descending")),
    ),
)
ITEMS = ContainerSpec(
    "items",
    "/run_id",
    # The cost report reads the items completed in a period across runs, in time order.
    composite_indexes=(
        (("/completed_at", "ascending"), ("/run_id", "ascending"), ("/index", "ascending")),
    ),
)
THREADS = ContainerSpec("threads", "/thread_id")
CACHE = ContainerSpec("cache", "/key", default_ttl=-1)
USAGE = ContainerSpec("usage", "/scope")
AUDIT = ContainerSpec(
    "audit",
    "/tenant_id",
    # The compliance report reads a period's entries across tenants, in time order.
    composite_indexes=((("/at", "ascending"), ("/tenant_id", "ascending"), ("/seq", "ascending")),),
)
# Reports span tenants; a handful per kind and day, listed by kind, newest first.
REPORTS = ContainerSpec(
    "reports",
    "/kind",
    composite_indexes=(
        (("/kind", "ascending"), ("/period_start", "descending"), ("/id", "descending")),
        (("/period_start", "descending"), ("/id", "descending")),
    ),
)

CONTAINERS: tuple[ContainerSpec, ...] = (RUNS, ITEMS, THREADS, CACHE, USAGE, AUDIT, REPORTS)
COLLECTIONS: tuple[str, ...] = tuple(spec.name for spec in CONTAINERS)


def check_collection(name: str) -> str:
    if name not in COLLECTIONS:
        raise ValueError(f"unknown collection {name!r}; expected one of {', '.join(COLLECTIONS)}")
    return name
