"""The blob port: named containers of immutable-once-written objects (backups, reports).

Two adapters implement it, `local.LocalBlobStore` (a folder, the offline default) and
`azure.AzureBlobStore` (Azure Blob Storage); one contract suite runs on both. Every name,
metadata entry and content type passes `validation` before either adapter touches storage, so
a name refused in Azure is refused locally too.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

DEFAULT_CONTENT_TYPE = "application/octet-stream"


class BlobError(Exception):
    """A blob operation failed for a reason of the storage, not of the arguments."""


class BlobNotFoundError(BlobError, LookupError):
    """No blob by that name (or its container does not exist)."""

    def __init__(self, container: str, name: str) -> None:
        super().__init__(f"no blob {name!r} in container {container!r}")
        self.container = container
        self.name = name


class ContainerNotFoundError(BlobNotFoundError):
    """The container does not exist. Only Azure raises it: infrastructure creates containers
    there, while the local folder makes them on demand."""

    def __init__(self, container: str, name: str = "") -> None:
        super().__init__(container, name)
        self.args = (f"no container {container!r}",)


class BlobExistsError(BlobError):
    """A conditional create met a blob that is already there."""

    def __init__(self, container: str, name: str) -> None:
        super().__init__(f"blob {name!r} already exists in container {container!r}")
        self.container = container
        self.name = name


@dataclass(frozen=True, slots=True)
class BlobInfo:
    container: str
    name: str
    size: int
    content_type: str
    etag: str
    last_modified: datetime
    metadata: Mapping[str, str] = field(default_factory=dict)


type BlobData = bytes | AsyncIterable[bytes]


class BlobStore(Protocol):
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

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
        """Write the blob from bytes or from chunks (streamed: staged blocks in Azure, a temp
        file locally), visible only once complete. With ``overwrite=False`` (the default) an
        existing blob raises BlobExistsError and is left as it was, so writers are idempotent."""
        ...

    async def get(self, container: str, name: str) -> bytes: ...

    def stream(self, container: str, name: str) -> AsyncIterator[bytes]:
        """The content in chunks of the adapter's chunk size; BlobNotFoundError on the first
        iteration when there is no such blob."""
        ...

    async def head(self, container: str, name: str) -> BlobInfo: ...

    def list_blobs(self, container: str, prefix: str = "") -> AsyncIterator[BlobInfo]:
        """The blobs whose names start with ``prefix``, in name order."""
        ...

    async def delete(self, container: str, name: str, *, missing_ok: bool = False) -> None: ...
