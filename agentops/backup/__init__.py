"""Encrypted, verified logical backups of the store in the blob store, and their restore."""

from agentops.backup.contracts import BackupWork, CollectionWork, ManifestWork
from agentops.backup.keys import BackupKeyError, BackupKeys
from agentops.backup.manifest import CONTAINER, Manifest, PartInfo
from agentops.backup.periods import backup_work_for_hour
from agentops.backup.service import (
    BackupInvalidError,
    BackupNotFoundError,
    BackupService,
    RestoreReport,
    VerifyReport,
)

__all__ = [
    "CONTAINER",
    "BackupInvalidError",
    "BackupKeyError",
    "BackupKeys",
    "BackupNotFoundError",
    "BackupService",
    "BackupWork",
    "CollectionWork",
    "Manifest",
    "ManifestWork",
    "PartInfo",
    "RestoreReport",
    "VerifyReport",
    "backup_work_for_hour",
]
