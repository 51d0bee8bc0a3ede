"""Fixtures for the store contract suite: one `store` fixture, parametrised over both adapters.

The Cosmos adapter runs against `@vercel/cosmosdb-server` (tools/cosmosdb-server) on 127.0.0.1
over plain HTTP, with the well-known emulator key and endpoint discovery off. The set-up plays
infrastructure: it creates a database per test with the containers of `CONTAINERS`.

Known gaps of that server, and where each is handled (never in production code):

1. A point read of a missing document answers 500 (a TypeError inside its read handler) rather
   than 404. tools/cosmosdb-server/serve.js wraps the handler to answer 404, as Cosmos DB does.
2. Transactional batch: the server neither applies a batch atomically nor reads the partition key
   of upsert/replace/read/delete operations from the request header (those fail with "Failed to
   parse x-ms-documentdb-partitionkey"). The adapter only batches `create` operations, which the
   server applies one by one; when a batch meets an existing item the adapter falls back to one
   create per item, so the outcome is the same with or without atomicity. The idempotency tests
   cover both paths.
3. TTL: the server stores `defaultTtl` and per-document `ttl` but never expires anything. The
   tests check that cache documents carry their `ttl`, and judge expiry through the injected
   clock (the adapter compares `expires_at`), which is how expiry is observable at once on Cosmos
   DB too.
4. Queries: no GROUP BY (the adapter aggregates with SUM over conditional expressions instead),
   and `SELECT VALUE {...}` with aggregates fails; the adapter uses neither.
5. Indexing policies are accepted and ignored: ORDER BY on two properties works there without a
   composite index, so a missing one would only show on Cosmos DB. test_cosmos.py checks the
   definitions in CONTAINERS instead.
6. Feed ranges: the server has one partition key range per container, so `read_feed_ranges`
   gives one range, the whole container (Cosmos DB gives one per physical partition). A query
   scoped to it without a filter on the partition key is refused ("missing partition keys");
   serve.js runs such a query across the container, which is that one range.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentops.store.containers import CONTAINERS

REPO = Path(__file__).resolve().parents[3]
SERVER_DIR = REPO / "tools" / "cosmosdb-server"
INSTALL_HINT = "npm ci --prefix tools/cosmosdb-server"
# The Cosmos DB emulator's published key; the local server accepts any key.
EMULATOR_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)


class FakeClock:
    """A settable UTC clock, so that expiry is tested without waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class CosmosServer:
    endpoint: str


@pytest.fixture(scope="session")
def cosmos_server() -> Iterator[CosmosServer]:
    # scripts/test.sh installs the server and sets AGENTOPS_REQUIRE_COSMOS, so that the full
    # suite fails rather than skips the Cosmos half of the contract when it is missing.
    missing = pytest.fail if os.environ.get("AGENTOPS_REQUIRE_COSMOS") else pytest.skip
    node = shutil.which("node")
    if node is None:
        missing(f"node is not installed; install Node.js 20+, then run: {INSTALL_HINT}")
    if not (SERVER_DIR / "node_modules" / "@vercel" / "cosmosdb-server").is_dir():
        missing(f"the local Cosmos DB server is not installed; run: {INSTALL_HINT}")
    proc = subprocess.Popen(
        [node, str(SERVER_DIR / "serve.js"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first_line: list[str] = []
        reader = threading.Thread(target=lambda: first_line.append(proc.stdout.readline()))
        reader.start()
        reader.join(timeout=15)
        if not first_line or not first_line[0].startswith("listening "):
            raise RuntimeError(f"the local Cosmos DB server did not start: {first_line!r}")
        host_port = first_line[0].split()[1]
        yield CosmosServer(f"http://{host_port}/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def create_database(server: CosmosServer, name: str) -> None:
    """Play infrastructure: the database and the containers of CONTAINERS."""
    from azure.cosmos import PartitionKey
    from azure.cosmos.aio import CosmosClient

    async with CosmosClient(
        server.endpoint, EMULATOR_KEY, enable_endpoint_discovery=False
    ) as client:
        database = await client.create_database(name)
        for spec in CONTAINERS:
            await database.create_container(
                spec.name,
                PartitionKey(spec.partition_key_path),
                default_ttl=spec.default_ttl,
                indexing_policy=spec.indexing_policy(),
            )


async def delete_database(server: CosmosServer, name: str) -> None:
    from azure.cosmos.aio import CosmosClient

    async with CosmosClient(
        server.endpoint, EMULATOR_KEY, enable_endpoint_discovery=False
    ) as client:
        await client.delete_database(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", pytest.param("cosmos", marks=pytest.mark.cosmos)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def store_factory(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator:
    """Makes fresh, empty stores of the parametrised kind; closes and drops them afterwards."""
    opened = []
    databases: list[str] = []
    server: CosmosServer | None = None
    if backend == "cosmos":
        server = request.getfixturevalue("cosmos_server")

    async def make():
        if backend == "sqlite":
            from agentops.store.sqlite import SqliteStore

            store = SqliteStore(tmp_path / f"store-{len(opened)}.db", clock=clock)
        else:
            from agentops.store.cosmos import CosmosStore

            assert server is not None
            name = f"test-{uuid.uuid4().hex[:12]}"
            await create_database(server, name)
            databases.append(name)
            store = CosmosStore(
                server.endpoint, EMULATOR_KEY, name, enable_endpoint_discovery=False, clock=clock
            )
        await store.__aenter__()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
    if server is not None:
        for name in databases:
            await delete_database(server, name)


@pytest.fixture
async def store(store_factory):
    return await store_factory()


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment must not intercept requests to the local server.
    hosts = [os.environ.get("NO_PROXY"), "127.0.0.1"]
    monkeypatch.setenv("NO_PROXY", ",".join(h for h in hosts if h))
