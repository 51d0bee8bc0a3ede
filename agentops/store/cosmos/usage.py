"""Daily usage counters in Cosmos DB: partition `/scope` ("tenant:acme", "agent:calc"), id = UTC
day. Point reads, and a patch `incr` that adds tokens and cost atomically on the server under
concurrency."""

from __future__ import annotations

from datetime import date

from azure.cosmos import exceptions

from agentops.store.checks import day_id
from agentops.store.cosmos.connection import MAX_RETRIES, CosmosConnection, remote
from agentops.store.errors import ConcurrencyError
from agentops.store.records import usage_doc


class CosmosUsageStore:
    def __init__(self, connection: CosmosConnection) -> None:
        self._db = connection

    @remote
    async def add_usage(self, scope: str, day: date, tokens: int, cost: float) -> tuple[int, float]:
        day_key = day_id(day)
        container = await self._db.container("usage")
        operations = [
            {"op": "incr", "path": "/tokens", "value": tokens},
            {"op": "incr", "path": "/cost", "value": float(cost)},
        ]
        for _ in range(MAX_RETRIES):
            try:
                doc = await container.patch_item(day_key, scope, patch_operations=operations)
                return int(doc["tokens"]), float(doc["cost"])
            except exceptions.CosmosResourceNotFoundError:
                pass
            try:
                doc = await container.create_item(usage_doc(scope, day_key, tokens, float(cost)))
                return int(doc["tokens"]), float(doc["cost"])
            except exceptions.CosmosResourceExistsError:
                continue  # created concurrently: the next patch finds it
        raise ConcurrencyError(f"usage/{scope}/{day_key}: gave up after {MAX_RETRIES} tries")

    @remote
    async def get_usage(self, scope: str, day: date) -> tuple[int, float]:
        doc = await self._db.read("usage", day_id(day), scope)
        return (0, 0.0) if doc is None else (int(doc["tokens"]), float(doc["cost"]))
