"""Encrypted, verified logical backups of the store in the blob store, and their restore."""

from agentops.backup.contracts import (
    BackupPlan,
    BackupWork,
    CollectionWork,
    ManifestWork,
    PlannedRange,
    PruneWork,
    collection_work,
)
from agentops.backup.keys import BackupKeyError, BackupKeys
from agentops.backup.manifest import CONTAINER, Manifest, PartInfo, Watermark
from agentops.backup.periods import backup_work_for_hour
from agentops.backup.service import (
    BackupInvalidError,
    BackupNotFoundError,
    BackupService,
    PruneReport,
    RestoreReport,
    VerifyReport,
)

__all__ = [
    "CONTAINER",
    "BackupInvalidError",
    "BackupKeyError",
    "BackupKeys",
    "BackupNotFoundError",
    "BackupPlan",
    "BackupService",
    "BackupWork",
    "CollectionWork",
    "Manifest",
    "ManifestWork",
    "PartInfo",
    "PlannedRange",
    "PruneReport",
    "PruneWork",
    "RestoreReport",
    "VerifyReport",
    "Watermark",
    "backup_work_for_hour",
    "collection_work",
]
