"""What only the Azure adapter has to prove, against Azurite: staged blocks, missing containers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from azure.storage.blob.aio import BlobServiceClient

from agentops.blobs import BlobNotFoundError, ContainerNotFoundError
from agentops.blobs.azure import AzureBlobStore
from tests.agentops.blobs.conftest import BLOCK_SIZE
from tests.azurite_server import Azurite

pytestmark = pytest.mark.azurite


@pytest.fixture
async def service(azurite: Azurite) -> AsyncIterator[BlobServiceClient]:
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as client:
        yield client


@pytest.fixture
async def store(azurite: Azurite) -> AsyncIterator[AzureBlobStore]:
    async with AzureBlobStore.from_connection_string(
        azurite.connection_string, block_size=BLOCK_SIZE
    ) as blobs:
        yield blobs


async def test_a_stream_is_committed_as_blocks_of_the_block_size(
    store: AzureBlobStore, service: BlobServiceClient
) -> None:
    await service.create_container("staged")
    data = os.urandom(3 * BLOCK_SIZE + 100)

    async def small_chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 10_000):
            yield data[start : start + 10_000]

    try:
        await store.put("staged", "part", small_chunks())
        committed, uncommitted = await service.get_blob_client("staged", "part").get_block_list()
        assert [block.size for block in committed] == [BLOCK_SIZE] * 3 + [100]
        assert uncommitted == []
        assert await store.get("staged", "part") == data
    finally:
        await service.delete_container("staged")


async def test_a_missing_container_is_an_error_not_created(
    store: AzureBlobStore, service: BlobServiceClient
) -> None:
    with pytest.raises(ContainerNotFoundError):
        await store.put("never-made", "a", b"x")
    with pytest.raises(ContainerNotFoundError):
        await store.put("never-made", "a", _one_chunk())
    with pytest.raises(ContainerNotFoundError):
        [info async for info in store.list_blobs("never-made")]
    with pytest.raises(ContainerNotFoundError):
        await store.get("never-made", "a")
    with pytest.raises(ContainerNotFoundError):
        await store.delete("never-made", "a", missing_ok=True)
    with pytest.raises(BlobNotFoundError):  # a ContainerNotFoundError is also a not-found
        await store.head("never-made", "a")
    assert [c.name async for c in service.list_containers(name_starts_with="never-made")] == []


async def _one_chunk() -> AsyncIterator[bytes]:
    yield b"x"


async def test_closing_closes_the_credential_it_was_given() -> None:
    class Credential:
        closed = False

        async def get_token(self, *scopes: str, **kwargs: object) -> None:
            raise AssertionError("not used in this test")

        async def close(self) -> None:
            self.closed = True

    credential = Credential()
    store = AzureBlobStore.from_account_url(
        "https://account.blob.core.windows.net",
        credential,  # type: ignore[arg-type]
    )
    await store.close()
    assert credential.closed


def test_block_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        AzureBlobStore.from_connection_string(
            "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=YQ==;BlobEndpoint=http://127.0.0.1:1/a;",
            block_size=0,
        )
