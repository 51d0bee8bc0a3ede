"""The same backup round trip on Azure Blob Storage (Azurite): staged uploads of streamed
parts, chunked reads, and a missing part refused."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from agentops.backup import CONTAINER, BackupInvalidError, BackupService
from agentops.backup.manifest import manifest_blob, part_blob
from agentops.blobs import BlobNotFoundError, BlobStore
from tests.agentops.backup.conftest import NOW, WORK, fill, snapshot
from tests.agentops.backup.test_incremental import small_fill
from tests.agentops.backup.test_retention import day_work, folders, on
from tests.agentops.blobs.conftest import azurite  # noqa: F401  (the session's Azurite)
from tests.azurite_server import Azurite

pytestmark = pytest.mark.azurite


@pytest.fixture
async def azure_blobs(
    azurite: Azurite,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[BlobStore]:
    from azure.storage.blob.aio import BlobServiceClient

    from agentops.blobs.azure import AzureBlobStore

    monkeypatch.setenv(
        "NO_PROXY", ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    )
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        await service.create_container(CONTAINER)  # infrastructure's job in Azure
        try:
            async with AzureBlobStore.from_connection_string(
                azurite.connection_string, block_size=256 * 1024
            ) as store:
                yield store
        finally:
            await service.delete_container(CONTAINER)


async def test_round_trip_on_azure_blob_storage(stores, azure_blobs, keys):
    source, target = stores
    await fill(source, items=3000)
    before = await snapshot(source)
    manifest = await BackupService(source, azure_blobs, keys, part_bytes=64 * 1024).create(
        WORK, now=NOW
    )
    restorer = BackupService(target, azure_blobs, keys)
    assert (await restorer.verify(WORK.backup_id)).ok
    await restorer.restore(WORK.backup_id)
    assert await snapshot(target) == before

    items = next(p for p in manifest.parts if p.collection == "items")
    await azure_blobs.delete(CONTAINER, part_blob(WORK.backup_id, items.name))
    with pytest.raises(BackupInvalidError, match=items.name):
        await restorer.restore(WORK.backup_id)


async def test_prune_deletes_manifests_then_parts_on_azure_blob_storage(stores, azure_blobs, keys):
    source, _ = stores
    await small_fill(source)
    backups = BackupService(source, azure_blobs, keys, full_every=2, retention_days=30)
    made = [await backups.create(day_work(day), now=on(day)) for day in range(3)]
    assert [m.kind for m in made] == ["full", "incremental", "full"]
    report = await backups.prune(now=on(32))  # cutoff day 2: the third is the newest full
    assert report.deleted == [made[1].backup_id, made[0].backup_id]
    assert await folders(azure_blobs) == {made[2].backup_id}
    with pytest.raises(BlobNotFoundError):
        await azure_blobs.head(CONTAINER, manifest_blob(made[0].backup_id))
    assert (await backups.verify(made[2].backup_id)).ok
