"""What a backup holds, written last: a backup without a manifest is incomplete."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
CONTAINER = "backups"
MANIFEST_NAME = "manifest.json"


class PartInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # blob name within the backup's folder
    collection: str
    count: int = Field(ge=0)
    bytes: int = Field(ge=0)  # as stored
    sha256: str  # hex, of the stored bytes
    key_id: str


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    backup_id: str
    kind: Literal["full"] = "full"
    schema_version: int = SCHEMA_VERSION
    period_start: datetime
    period_end: datetime
    created_at: datetime
    parts: tuple[PartInfo, ...]

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for part in self.parts:
            totals[part.collection] = totals.get(part.collection, 0) + part.count
        return totals


def part_blob(backup_id: str, part: str) -> str:
    return f"{backup_id}/{part}"


def manifest_blob(backup_id: str) -> str:
    return f"{backup_id}/{MANIFEST_NAME}"
