"""What the backup routes answer: one model per response, camelCase keys, as the run routes.

Summaries are read from the manifest's own fields (`Manifest.model_dump`), so a field the
manifest gains reaches the answer by adding it here, with no code to copy it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from agentops.backup import Manifest, VerifyReport
from triggers.responses import Response

BackupStatus = Literal["running", "completed", "failed"]


def _manifest_fields(manifest: Manifest) -> dict[str, Any]:
    fields = manifest.model_dump()
    fields["id"] = fields.pop("backup_id")
    fields["counts"] = manifest.counts()
    fields["total_bytes"] = sum(part.bytes for part in manifest.parts)
    return fields


class BackupPart(Response):
    name: str
    collection: str
    count: int = Field(ge=0)
    bytes: int = Field(ge=0, description="as stored")
    sha256: str = Field(description="hex, of the stored bytes")
    key_id: str


class BackupSummary(Response):
    """A complete backup, as listed."""

    id: str
    kind: str = Field(description="full")
    period_start: datetime
    period_end: datetime
    created_at: datetime
    counts: dict[str, int] = Field(description="documents per collection")
    total_bytes: int = Field(ge=0, description="the parts' stored size")

    @classmethod
    def of(cls, manifest: Manifest) -> BackupSummary:
        return cls.model_validate(_manifest_fields(manifest))


class BackupList(Response):
    backups: list[BackupSummary] = Field(description="newest first")
    continuation: str | None = Field(description="pass back to read the next page")
    next: str | None = Field(description="the next page's URL")


class BackupView(Response):
    """One backup: its manifest once it is complete; while its orchestration runs (or after it
    failed) only its id and status."""

    id: str
    status: BackupStatus
    kind: str | None = None
    schema_version: int | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    created_at: datetime | None = None
    counts: dict[str, int] | None = None
    total_bytes: int | None = Field(default=None, ge=0)
    parts: list[BackupPart] | None = None

    @classmethod
    def of(cls, manifest: Manifest) -> BackupView:
        return cls.model_validate({**_manifest_fields(manifest), "status": "completed"})

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


class BackupAccepted(Response):
    id: str
    status_uri: str


class VerifyView(Response):
    """A verification's result: a backup that fails it is a result, not an error."""

    backup_id: str
    ok: bool
    counts: dict[str, int] = Field(description="documents read per collection")
    problems: list[str] = Field(description="each fault found: part, frame, key or count")

    @classmethod
    def of(cls, report: VerifyReport) -> VerifyView:
        return cls(
            backup_id=report.backup_id,
            ok=report.ok,
            counts=report.counts,
            problems=report.problems,
        )


class RestoreAccepted(Response):
    id: str
    restore_id: str
    backup_id: str
    dry_run: bool
    tenant: str | None
    status_uri: str


class RestoreView(Response):
    """A restore: running; completed, with the documents written (or, in a dry run, that
    would be) per collection; or failed, with the problems that stopped it before any write."""

    id: str
    backup_id: str
    status: BackupStatus
    dry_run: bool
    tenant: str | None
    counts: dict[str, int] | None = Field(description="once completed")
    problems: list[str]
    created_at: datetime
    last_updated_at: datetime


BACKUP_RESPONSE_MODELS: tuple[type[Response], ...] = (
    BackupList,
    BackupView,
    BackupAccepted,
    VerifyView,
    RestoreAccepted,
    RestoreView,
)
