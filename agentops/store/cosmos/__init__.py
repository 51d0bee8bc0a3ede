"""The store in Azure Cosmos DB for NoSQL (async SDK, key or Microsoft Entra ID credential).

The database and its containers come from infrastructure (`CONTAINERS` in containers.py); this
adapter never creates them. `CosmosStore` opens one client (connection.py) and one part per port
over it; each part's module says which container it uses, its partition key and the access
pattern it serves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from azure.core.credentials_async import AsyncTokenCredential

from agentops.store.cosmos.audit import CosmosAuditStore
from agentops.store.cosmos.cache import CosmosCacheStore
from agentops.store.cosmos.collections import CosmosCollectionStore
from agentops.store.cosmos.connection import CosmosConnection
from agentops.store.cosmos.reports import CosmosReportStore
from agentops.store.cosmos.runs import CosmosRunStore
from agentops.store.cosmos.threads import CosmosThreadStore
from agentops.store.cosmos.usage import CosmosUsageStore
from agentops.store.facade import StoreFacade, StoreParts


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CosmosStore(StoreFacade):
    """Every port on Azure Cosmos DB.

    `credential` is an account key or an async token credential (managed identity); the caller
    owns a token credential and closes it after `close()`. Leave endpoint discovery on for Azure;
    turn it off for a single-endpoint server such as the local one used in tests.
    """

    def __init__(
        self,
        endpoint: str,
        credential: str | AsyncTokenCredential,
        database: str,
        *,
        enable_endpoint_discovery: bool = True,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        connection = CosmosConnection(
            endpoint,
            credential,
            database,
            enable_endpoint_discovery=enable_endpoint_discovery,
            clock=clock,
        )
        cache = CosmosCacheStore(connection)
        super().__init__(
            StoreParts(
                connection=connection,
                runs=CosmosRunStore(connection, cache),
                threads=CosmosThreadStore(connection),
                usage=CosmosUsageStore(connection),
                cache=cache,
                audit=CosmosAuditStore(connection),
                collections=CosmosCollectionStore(connection),
                reports=CosmosReportStore(connection),
            )
        )


__all__ = ["CosmosStore"]
