"""Fixtures for the blob contract suite: one `blobs` fixture, parametrised over both adapters.

The Azure adapter runs against Azurite (tools/azurite), started once per test session on
127.0.0.1. The set-up plays infrastructure: it creates the containers a test uses, with names
unique to the test, and deletes them afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentops.blobs import BlobStore
from tests.azurite_server import Azurite, missing_reason, run_azurite

# Small blocks and chunks, so that a few MiB exercise staged uploads and chunked reads.
BLOCK_SIZE = 256 * 1024


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    # scripts/test.sh installs Azurite and sets AGENTOPS_REQUIRE_AZURITE, so that the full
    # suite fails rather than skips the Azure half of the contract when it is missing.
    reason = missing_reason()
    if reason is not None:
        (pytest.fail if os.environ.get("AGENTOPS_REQUIRE_AZURITE") else pytest.skip)(reason)
    with run_azurite() as server:
        yield server


@dataclass(frozen=True)
class Containers:
    """Container names for one test (infrastructure has made them where that is needed)."""

    main: str
    other: str


@pytest.fixture(params=["local", pytest.param("azure", marks=pytest.mark.azurite)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def containers() -> Containers:
    suffix = uuid.uuid4().hex[:12]
    return Containers(main=f"test-{suffix}", other=f"other-{suffix}")


@pytest.fixture
async def blobs(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, containers: Containers
) -> AsyncIterator[BlobStore]:
    if backend == "local":
        from agentops.blobs.local import LocalBlobStore

        async with LocalBlobStore(tmp_path / "blobs", chunk_size=BLOCK_SIZE) as store:
            yield store
        return
    from azure.storage.blob.aio import BlobServiceClient

    from agentops.blobs.azure import AzureBlobStore

    server: Azurite = request.getfixturevalue("azurite")
    async with BlobServiceClient.from_connection_string(server.connection_string) as service:
        for name in (containers.main, containers.other):
            await service.create_container(name)
        try:
            async with AzureBlobStore.from_connection_string(
                server.connection_string, block_size=BLOCK_SIZE
            ) as store:
                yield store
        finally:
            for name in (containers.main, containers.other):
                await service.delete_container(name)


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the environment must not intercept requests to the local server.
    hosts = [os.environ.get("NO_PROXY"), "127.0.0.1"]
    monkeypatch.setenv("NO_PROXY", ",".join(h for h in hosts if h))
