"""What only the Cosmos DB adapter promises, against the local server (see conftest)."""

from __future__ import annotations

from datetime import date

import pytest

from agentops.store import CONTAINERS, StoreError
from agentops.store.cosmos import CosmosStore
from tests.agentops.store.conftest import EMULATOR_KEY, create_database, delete_database

pytestmark = pytest.mark.cosmos


async def test_the_app_does_not_create_what_infrastructure_owns(cosmos_server):
    store = CosmosStore(
        cosmos_server.endpoint, EMULATOR_KEY, "never-provisioned", enable_endpoint_discovery=False
    )
    async with store:
        with pytest.raises(StoreError):
            await store.add_usage("tenant:acme", date(2026, 1, 1), 1, 0.0)


async def test_container_definitions_are_what_the_module_documents():
    specs = {spec.name: (spec.partition_key_path, spec.default_ttl) for spec in CONTAINERS}
    assert specs == {
        "runs": ("/run_id", None),
        "items": ("/run_id", None),
        "threads": ("/thread_id", None),
        "cache": ("/key", -1),
        "usage": ("/scope", None),
        "audit": ("/tenant_id", None),
        "reports": ("/kind", None),
    }
    # Every ORDER BY on more than one property has its composite index.
    for name in ("runs", "items", "audit", "reports"):
        spec = next(spec for spec in CONTAINERS if spec.name == name)
        assert spec.indexing_policy()["compositeIndexes"]


async def test_store_is_usable_after_set_up_as_infrastructure_would_do_it(cosmos_server):
    await create_database(cosmos_server, "provisioned")
    try:
        async with CosmosStore(
            cosmos_server.endpoint, EMULATOR_KEY, "provisioned", enable_endpoint_discovery=False
        ) as store:
            assert await store.add_items("run-1", ["a", "b"]) == 2
        with pytest.raises(StoreError, match="closed"):
            await store.get_run("run-1")
    finally:
        await delete_database(cosmos_server, "provisioned")


def test_constructor_refuses_bad_arguments():
    with pytest.raises(ValueError):
        CosmosStore("localhost:8081", EMULATOR_KEY, "db")
    with pytest.raises(ValueError):
        CosmosStore("https://acct.documents.azure.com", EMULATOR_KEY, "bad/name")
