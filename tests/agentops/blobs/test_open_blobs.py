"""The blob store chosen from settings alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentops.blobs.azure import AzureBlobStore
from agentops.blobs.local import LocalBlobStore
from agentops.bootstrap import open_blobs
from agentops.settings import PROJECT_ROOT, Settings
from tests.azurite_server import ACCOUNT_KEY, Azurite


@pytest.fixture(autouse=True)
def _no_blob_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BLOB_STORE", "BLOB_ROOT", "BLOB_ACCOUNT_URL", "BLOB_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)


async def test_the_default_is_a_folder_under_the_app() -> None:
    store = open_blobs(Settings())
    assert isinstance(store, LocalBlobStore)
    assert store.root == (PROJECT_ROOT / ".data" / "blobs").resolve()


async def test_blob_root_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BLOB_STORE", "local")
    monkeypatch.setenv("BLOB_ROOT", str(tmp_path / "elsewhere"))
    async with open_blobs(Settings()) as store:
        await store.put("reports", "r.json", b"{}")
    assert (tmp_path / "elsewhere" / "reports" / "r.json").is_file()


@pytest.mark.azurite
async def test_a_connection_string_reaches_the_account(
    monkeypatch: pytest.MonkeyPatch, azurite: Azurite
) -> None:
    from azure.storage.blob.aio import BlobServiceClient

    monkeypatch.setenv("BLOB_STORE", "azure")
    monkeypatch.setenv("BLOB_CONNECTION_STRING", azurite.connection_string)
    settings = Settings()
    assert ACCOUNT_KEY not in repr(settings)
    async with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        await service.create_container("wired")
        try:
            async with open_blobs(settings) as store:
                assert isinstance(store, AzureBlobStore)
                await store.put("wired", "a", b"through settings")
                assert await store.get("wired", "a") == b"through settings"
        finally:
            await service.delete_container("wired")


async def test_an_account_url_uses_the_managed_identity_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.identity.aio import ManagedIdentityCredential

    settings = Settings(
        BLOB_STORE="azure",
        BLOB_ACCOUNT_URL="https://account.blob.core.windows.net",
        AZURE_CLIENT_ID="00000000-0000-0000-0000-000000000001",
    )
    store = open_blobs(settings)
    assert isinstance(store, AzureBlobStore)
    assert isinstance(store._credential, ManagedIdentityCredential)
    await store.close()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "needs BLOB_ACCOUNT_URL or BLOB_CONNECTION_STRING"),
        (
            {
                "BLOB_ACCOUNT_URL": "https://account.blob.core.windows.net",
                "BLOB_CONNECTION_STRING": "UseDevelopmentStorage=true",
            },
            "not both",
        ),
    ],
)
def test_azure_without_one_way_in_is_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_blobs(Settings(BLOB_STORE="azure", **values))


def test_an_unknown_blob_store_is_refused() -> None:
    with pytest.raises(ValueError, match="BLOB_STORE"):
        Settings(BLOB_STORE="s3")
