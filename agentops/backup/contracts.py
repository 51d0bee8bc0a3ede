"""The typed inputs of the backup orchestration and its activities."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator

from agentops.backup.manifest import PartInfo
from agentops.store.containers import check_collection

_BACKUP_ID = re.compile(r"^backup-[0-9A-Za-z-]{1,64}$")


def check_backup_id(value: str) -> str:
    if not _BACKUP_ID.match(value):
        raise ValueError(f"backup id {value!r} must match {_BACKUP_ID.pattern}")
    return value


class BackupWork(BaseModel):
    model_config = ConfigDict(frozen=True)

    backup_id: str
    period_start: datetime
    period_end: datetime

    _check_id = field_validator("backup_id")(check_backup_id)


class CollectionWork(BaseModel):
    model_config = ConfigDict(frozen=True)

    backup_id: str
    collection: str

    _check_id = field_validator("backup_id")(check_backup_id)
    _check_collection = field_validator("collection")(check_collection)


class ManifestWork(BaseModel):
    model_config = ConfigDict(frozen=True)

    work: BackupWork
    created_at: datetime
    parts: tuple[PartInfo, ...]
