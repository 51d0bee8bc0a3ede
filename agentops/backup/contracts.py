"""The typed inputs of the backup orchestration and its activities."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentops.backup.manifest import BackupKind, PartInfo, Watermark
from agentops.store.containers import check_collection

_BACKUP_ID = re.compile(r"^backup-[0-9A-Za-z-]{1,64}$")


def check_backup_id(value: str) -> str:
    if not _BACKUP_ID.fullmatch(value):
        raise ValueError(f"backup id {value!r} must match {_BACKUP_ID.pattern}")
    return value


class BackupWork(BaseModel):
    model_config = ConfigDict(frozen=True)

    backup_id: str
    period_start: datetime
    period_end: datetime

    _check_id = field_validator("backup_id")(check_backup_id)


class PlannedRange(BaseModel):
    """One activity's share of a collection: a range token from `collection_ranges`."""

    model_config = ConfigDict(frozen=True)

    collection: str
    index: int = Field(ge=0, le=99_999)
    key_range: dict[str, Any]

    _check_collection = field_validator("collection")(check_collection)


class BackupPlan(BaseModel):
    """What a backup will be, decided by an activity from the manifests already written (so a
    replayed orchestrator reads the decision from its history rather than making it again)."""

    model_config = ConfigDict(frozen=True)

    backup_id: str
    kind: BackupKind
    base: str | None = None
    watermark: Watermark
    collections: tuple[str, ...] = Field(min_length=1)  # the store's, when planned
    # Each collection's ranges, one activity each; none: one activity per collection.
    ranges: tuple[PlannedRange, ...] = ()

    _check_id = field_validator("backup_id")(check_backup_id)

    @field_validator("collections")
    @classmethod
    def _known(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            check_collection(name)
        return names

    @model_validator(mode="after")
    def _consistent(self) -> BackupPlan:
        if (self.kind == "incremental") != (self.base is not None):
            raise ValueError("an incremental backup, and only one, has a base")
        if (self.kind == "incremental") != (self.watermark.since is not None):
            raise ValueError("an incremental backup, and only one, starts from a since")
        if self.ranges:
            keys = [(r.collection, r.index) for r in self.ranges]
            if len(set(keys)) != len(keys):
                raise ValueError("a range is planned twice")
            if {r.collection for r in self.ranges} != set(self.collections):
                raise ValueError("ranges, when planned, cover every collection")
        return self


class CollectionWork(BaseModel):
    model_config = ConfigDict(frozen=True)

    backup_id: str
    collection: str
    since: datetime | None = None  # an incremental backup's lower bound
    range_index: int | None = Field(default=None, ge=0, le=99_999)
    key_range: dict[str, Any] | None = None

    _check_id = field_validator("backup_id")(check_backup_id)
    _check_collection = field_validator("collection")(check_collection)

    @model_validator(mode="after")
    def _range_with_index(self) -> CollectionWork:
        if (self.range_index is None) != (self.key_range is None):
            raise ValueError("a range comes with its index, and an index with its range")
        return self


class ManifestWork(BaseModel):
    model_config = ConfigDict(frozen=True)

    work: BackupWork
    created_at: datetime
    parts: tuple[PartInfo, ...]
    plan: BackupPlan | None = None


class PruneWork(BaseModel):
    model_config = ConfigDict(frozen=True)

    now: datetime


def collection_work(plan: BackupPlan) -> list[CollectionWork]:
    """The activities of a plan: one per planned range, or one per collection when the plan has
    no ranges (that of a backup already complete). Pure, for the orchestrator too."""
    since = plan.watermark.since
    if plan.ranges:
        return [
            CollectionWork(
                backup_id=plan.backup_id,
                collection=r.collection,
                since=since,
                range_index=r.index,
                key_range=r.key_range,
            )
            for r in plan.ranges
        ]
    return [
        CollectionWork(backup_id=plan.backup_id, collection=name, since=since)
        for name in plan.collections
    ]
