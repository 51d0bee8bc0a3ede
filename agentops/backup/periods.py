"""Backup ids from the period they cover: the same hour always gives the same id, so a timer
that fires twice, late, or on two instances starts one backup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agentops.backup.contracts import BackupWork


def backup_work_for_hour(at: datetime) -> BackupWork:
    """The backup of the hour that contains `at` (UTC): ``backup-YYYYMMDDHH``."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    start = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return BackupWork(
        backup_id=f"backup-{start:%Y%m%d%H}",
        period_start=start,
        period_end=start + timedelta(hours=1),
    )


def manual_backup_work(at: datetime) -> BackupWork:
    """A backup started by hand: its own id, to the second, covering up to `at`."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    at = at.astimezone(UTC).replace(microsecond=0)
    return BackupWork(backup_id=f"backup-{at:%Y%m%dT%H%M%S}", period_start=at, period_end=at)
