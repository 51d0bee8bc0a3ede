"""What a backup holds, written last: a backup without a manifest is incomplete.

A full backup holds every document; an incremental one holds the documents written since the
backup it builds on (`base`), which may itself be incremental, back to a full one: its chain.
Manifests from before incremental backups (schema version 1) are full, with no watermark; such
a backup restores alone but is never the base of an incremental.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 2
# The collections a backup held before manifests listed them (the store had no others then).
FIRST_COLLECTIONS: tuple[str, ...] = ("runs", "items", "threads", "cache", "usage", "audit")
CONTAINER = "backups"
MANIFEST_NAME = "manifest.json"


class PartInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str  # blob name within the backup's folder
    collection: str
    range_index: int | None = None  # of the collection's planned ranges; None: the whole of it
    count: int = Field(ge=0)
    bytes: int = Field(ge=0)  # as stored
    sha256: str  # hex, of the stored bytes
    key_id: str


class Watermark(BaseModel):
    """The modification times a backup covers, by the store's clock: documents written at or
    after `since` (every document when None), up to at least `until`, taken before the first
    document was read. Writes during the backup may be in it too; the next backup in the chain
    starts a margin before `until`, so overlap is possible and gaps are not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    since: datetime | None
    until: datetime

    @model_validator(mode="after")
    def _ordered(self) -> Watermark:
        if self.since is not None and self.since > self.until:
            raise ValueError("a watermark's since is not after its until")
        return self


type BackupKind = Literal["full", "incremental"]


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    backup_id: str
    kind: BackupKind = "full"
    base: str | None = None  # the backup an incremental builds on
    watermark: Watermark | None = None  # None only in manifests of schema version 1
    schema_version: int = SCHEMA_VERSION
    period_start: datetime
    period_end: datetime
    created_at: datetime
    parts: tuple[PartInfo, ...]
    # The collections it holds; a collection added to the store later is not missing from it.
    collections: tuple[str, ...] = FIRST_COLLECTIONS

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if self.kind == "full" and self.base is not None:
            raise ValueError("a full backup has no base")
        if self.kind == "incremental" and (
            self.base is None or self.watermark is None or self.watermark.since is None
        ):
            raise ValueError("an incremental backup needs a base and a watermark with a since")
        return self

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for part in self.parts:
            totals[part.collection] = totals.get(part.collection, 0) + part.count
        return totals


def part_blob(backup_id: str, part: str) -> str:
    return f"{backup_id}/{part}"


def manifest_blob(backup_id: str) -> str:
    return f"{backup_id}/{MANIFEST_NAME}"
