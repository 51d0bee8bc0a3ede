"""Blobs in Azure Blob Storage (`BLOB_STORE=azure`), through the async `azure-storage-blob` SDK.

By account URL with the app's identity in Azure, or by connection string (Azurite in the tests).
Infrastructure creates the containers; a missing one raises ContainerNotFoundError rather than
being created at runtime. Memory is bounded by `block_size`: a streamed put is cut into blocks of
that size, staged one at a time and committed with the blob's properties, and reads come in
chunks of that size.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobProperties, BlobType, ContentSettings
from azure.storage.blob.aio import BlobServiceClient
from pydantic import SecretStr

from agentops.blobs.port import (
    DEFAULT_CONTENT_TYPE,
    BlobData,
    BlobExistsError,
    BlobInfo,
    BlobNotFoundError,
    ContainerNotFoundError,
)
from agentops.blobs.validation import (
    check_container,
    check_content_type,
    check_metadata,
    check_name,
    check_prefix,
)

if TYPE_CHECKING:
    from azure.core.credentials_async import AsyncTokenCredential

DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024


class AzureBlobStore:
    """The blob port over one storage account. It owns the client and the credential given to
    `from_account_url`, and closes both."""

    def __init__(
        self,
        service: BlobServiceClient,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        credential: AsyncTokenCredential | None = None,
    ) -> None:
        self._service = service
        self._block_size = block_size
        self._credential = credential

    @classmethod
    def from_account_url(
        cls,
        account_url: str,
        credential: AsyncTokenCredential,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        **client_options: Any,
    ) -> AzureBlobStore:
        service = BlobServiceClient(
            account_url, credential=credential, **_sizes(block_size), **client_options
        )
        return cls(service, block_size=block_size, credential=credential)

    @classmethod
    def from_connection_string(
        cls,
        connection_string: SecretStr | str,
        *,
        block_size: int = DEFAULT_BLOCK_SIZE,
        **client_options: Any,
    ) -> AzureBlobStore:
        value = (
            connection_string.get_secret_value()
            if isinstance(connection_string, SecretStr)
            else connection_string
        )
        service = BlobServiceClient.from_connection_string(
            value, **_sizes(block_size), **client_options
        )
        return cls(service, block_size=block_size)

    async def close(self) -> None:
        await self._service.close()
        if self._credential is not None:
            await self._credential.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def put(
        self,
        container: str,
        name: str,
        data: BlobData,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        metadata: Mapping[str, str] | None = None,
        overwrite: bool = False,
    ) -> BlobInfo:
        blob = self._blob(container, name)
        content_type = check_content_type(content_type)
        checked = check_metadata(metadata)
        written = [0]
        payload: bytes | AsyncIterator[bytes]
        if isinstance(data, bytes | bytearray | memoryview):
            payload = bytes(data)
            written[0] = len(payload)
        elif hasattr(data, "__aiter__"):
            payload = _blocks(data, self._block_size, written)
        else:
            raise TypeError("blob data is bytes or an async iterable of bytes")
        try:
            # A stream of unknown length is staged block by block and committed at the end;
            # without overwrite the commit carries If-None-Match: *, so only one writer wins.
            result = await blob.upload_blob(
                payload,
                blob_type=BlobType.BLOCKBLOB,
                overwrite=overwrite,
                metadata=checked,
                content_settings=ContentSettings(content_type=content_type),
                max_concurrency=1,
            )
        except ResourceExistsError:
            raise BlobExistsError(container, name) from None
        except ResourceNotFoundError:
            raise ContainerNotFoundError(container) from None
        return BlobInfo(
            container=container,
            name=name,
            size=written[0],
            content_type=content_type,
            etag=result["etag"],
            last_modified=result["last_modified"],
            metadata=checked,
        )

    async def get(self, container: str, name: str) -> bytes:
        blob = self._blob(container, name)
        try:
            downloader = await blob.download_blob()
            return await downloader.readall()
        except ResourceNotFoundError as error:
            raise _not_found(error, container, name) from None

    async def stream(self, container: str, name: str) -> AsyncIterator[bytes]:
        blob = self._blob(container, name)
        try:
            downloader = await blob.download_blob()
        except ResourceNotFoundError as error:
            raise _not_found(error, container, name) from None
        # Later ranges are read with If-Match on the first one's etag, so an overwrite while
        # streaming fails the read rather than splicing two versions.
        async for chunk in downloader.chunks():
            yield chunk

    async def head(self, container: str, name: str) -> BlobInfo:
        blob = self._blob(container, name)
        try:
            properties = await blob.get_blob_properties()
        except ResourceNotFoundError as error:
            raise _not_found(error, container, name) from None
        return _info(container, properties)

    async def list_blobs(self, container: str, prefix: str = "") -> AsyncIterator[BlobInfo]:
        client = self._service.get_container_client(check_container(container))
        pages = client.list_blobs(
            name_starts_with=check_prefix(prefix) or None, include=["metadata"]
        )
        try:
            async for properties in pages:
                yield _info(container, properties)
        except ResourceNotFoundError:
            raise ContainerNotFoundError(container) from None

    async def delete(self, container: str, name: str, *, missing_ok: bool = False) -> None:
        blob = self._blob(container, name)
        try:
            await blob.delete_blob(delete_snapshots="include")
        except ResourceNotFoundError as error:
            not_found = _not_found(error, container, name)
            if missing_ok and not isinstance(not_found, ContainerNotFoundError):
                return
            raise not_found from None

    def _blob(self, container: str, name: str) -> Any:
        return self._service.get_blob_client(check_container(container), check_name(name))


def _sizes(block_size: int) -> dict[str, int]:
    if block_size < 1:
        raise ValueError("block_size is at least 1 byte")
    # The SDK reads 32 MiB on a download's first request by default; keep every request to a block.
    return {
        "max_block_size": block_size,
        "max_single_get_size": block_size,
        "max_chunk_get_size": block_size,
    }


async def _blocks(
    chunks: AsyncIterable[bytes], size: int, written: list[int]
) -> AsyncIterator[bytes]:
    """The chunks regrouped into blocks of ``size`` bytes (the last one shorter), counting the
    bytes in ``written``. The SDK would regroup small chunks by concatenating bytes objects,
    which copies a block once per chunk."""
    buffer = bytearray()
    async for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError("blob chunks are bytes")
        buffer += chunk
        written[0] += len(chunk)
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def _not_found(error: ResourceNotFoundError, container: str, name: str) -> BlobNotFoundError:
    if error.error_code == "ContainerNotFound":
        return ContainerNotFoundError(container, name)
    return BlobNotFoundError(container, name)


def _info(container: str, properties: BlobProperties) -> BlobInfo:
    return BlobInfo(
        container=container,
        name=properties.name,
        size=properties.size,
        content_type=properties.content_settings.content_type or DEFAULT_CONTENT_TYPE,
        etag=properties.etag,
        last_modified=properties.last_modified,
        metadata=dict(properties.metadata or {}),
    )
