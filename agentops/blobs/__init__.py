"""Blob storage for backups and reports: the port, its errors and the name rules.

The adapters (`agentops.blobs.local`, `agentops.blobs.azure`) are imported where they are chosen,
in `agentops.bootstrap.open_blobs`, so the Azure SDK loads only when it is used.
"""

from agentops.blobs.port import (
    DEFAULT_CONTENT_TYPE,
    BlobData,
    BlobError,
    BlobExistsError,
    BlobInfo,
    BlobNotFoundError,
    BlobStore,
    ContainerNotFoundError,
)

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "BlobData",
    "BlobError",
    "BlobExistsError",
    "BlobInfo",
    "BlobNotFoundError",
    "BlobStore",
    "ContainerNotFoundError",
]
