"""A restore run as a durable orchestration: its typed input, its instance id, its outcome.

A restore of a large store can outlast an HTTP request, so the API starts it under a restore id
and reports on it later. Its instance id names the backup (`restore.<backup id>.<restore id>`):
the restores of one backup are the instances with that prefix, and no backup id contains a `.`,
so one backup's prefix never takes in another's restores.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentops.backup.contracts import check_backup_id
from agentops.backup.requests import RESTORE_ID_PATTERN


class RestoreWork(BaseModel):
    """The orchestration's and the activity's input."""

    model_config = ConfigDict(frozen=True)

    restore_id: str = Field(pattern=RESTORE_ID_PATTERN)
    backup_id: str
    tenant: str | None = None
    dry_run: bool

    _check_id = field_validator("backup_id")(check_backup_id)

    @property
    def instance_id(self) -> str:
        return restore_instance_id(self.backup_id, self.restore_id)


class RestoreOutcome(BaseModel):
    """What the restore activity returns. A backup that fails verification (or is gone by the
    time the activity runs) is an outcome, not a crash: it is not retried, and the orchestration
    fails with the problems in its custom status."""

    model_config = ConfigDict(frozen=True)

    outcome: Literal["restored", "invalid", "missing"]
    counts: dict[str, int] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)


class RestoreRefusedError(RuntimeError):
    """The backup could not be restored (it failed verification, or is gone); nothing written."""


def restores_prefix(backup_id: str) -> str:
    return f"restore.{check_backup_id(backup_id)}."


def restore_instance_id(backup_id: str, restore_id: str) -> str:
    return restores_prefix(backup_id) + restore_id
