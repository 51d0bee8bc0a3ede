"""What callers of the backup routes send, with every rule about it.

Strict as the run requests are (`agentops.runs.requests`): no unknown fields, no `"true"` for a
boolean, ids checked against their syntax before anything uses them. A backup id is what
`check_backup_id` admits (letters, digits and `-` after `backup-`), so no `.`, `/` or `%` ever
reaches a blob name or an instance id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import StringConstraints as Text
from pydantic_core import PydanticCustomError

from agentops.backup.contracts import check_backup_id
from agentops.backup.manifest import Manifest
from agentops.runs.requests import _ascii_integer

# The syntax `check_backup_id` enforces, as a JSON Schema pattern (`$` ends the text here,
# where Python's `re` would also take a final newline).
BACKUP_ID_PATTERN = r"^backup-[0-9A-Za-z-]{1,64}$"
BackupId = Annotated[str, Text(pattern=BACKUP_ID_PATTERN), AfterValidator(check_backup_id)]
# Restore ids are what the API gives out: uuid4 hex.
RESTORE_ID_PATTERN = r"^[0-9a-f]{32}$"
RestoreId = Annotated[str, Text(pattern=RESTORE_ID_PATTERN)]
# A list token: the last backup's creation time (UTC, to the microsecond) and id.
CONTINUATION_PATTERN = r"^[0-9]{8}T[0-9]{12}-backup-[0-9A-Za-z-]{1,64}$"


def _text(value: str) -> str:
    try:
        value.encode()
    except UnicodeEncodeError:  # a lone surrogate from a JSON \ud800 escape
        raise PydanticCustomError("invalid_text", "not valid Unicode text") from None
    return value


# Any tenant id the store accepts as a key (`agentops.store.checks.check_key`).
Tenant = Annotated[
    str,
    Text(min_length=1, max_length=255, pattern=r"^[^/\\?#\x00-\x1f\x7f]+$"),
    AfterValidator(_text),
]

_STRICT = ConfigDict(strict=True, extra="forbid")


class BackupPath(BaseModel):
    """The backup named in a route."""

    model_config = _STRICT

    backup_id: BackupId


class RestorePath(BaseModel):
    """A restore of a backup, named in a route."""

    model_config = _STRICT

    backup_id: BackupId
    restore_id: RestoreId


class BackupPage(BaseModel):
    """`GET /api/backups` query parameters (strings on the wire, hence not strict)."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, Field(ge=1, le=100), BeforeValidator(_ascii_integer)] = 20
    continuation: Annotated[str, Text(pattern=CONTINUATION_PATTERN)] | None = None


class RestoreRequest(BaseModel):
    """`POST /api/backups/{backup_id}/restore`. `dry_run` has no default: a restore writes into
    the live store only when the caller says so in as many words."""

    model_config = _STRICT

    dry_run: bool = Field(description="true: count what would be written, and write nothing")
    tenant: Tenant | None = Field(
        default=None, description="restore only this tenant's documents (the cache is left out)"
    )


def list_token(manifest: Manifest) -> str:
    """The continuation that resumes a listing after `manifest`."""
    return f"{_utc(manifest.created_at):%Y%m%dT%H%M%S%f}-{manifest.backup_id}"


def page_of(manifests: list[Manifest], page: BackupPage) -> tuple[list[Manifest], str | None]:
    """One page of `manifests` (newest first, as `BackupService.list` gives them) after the
    page's token, and the token of the next page. The token holds the sort key rather than a
    position, so backups added or pruned between pages neither repeat nor skip the rest."""
    after = page.continuation
    rest = [m for m in manifests if after is None or _key(list_token(m)) < _key(after)]
    chosen = rest[: page.limit]
    more = len(rest) > page.limit
    return chosen, list_token(chosen[-1]) if more else None


def _key(token: str) -> tuple[str, str]:
    time, backup_id = token.split("-", 1)
    return time, backup_id


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment
