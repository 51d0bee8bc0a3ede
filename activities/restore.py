"""The restore activity: a thin wrapper over `BackupService.restore`."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from agentops.backup import BackupInvalidError, BackupNotFoundError
from agentops.backup.restores import RestoreOutcome, RestoreWork
from agentops.bootstrap import get_services

bp = df.Blueprint()


@bp.activity_trigger(input_name="work")
async def restore_backup(work: dict[str, Any]) -> dict[str, Any]:
    """Verify, then write (or count) the backup's documents. Rerun after a crash it writes the
    same documents again (restore upserts), so at-least-once execution is harmless."""
    job = RestoreWork.model_validate(work)
    backups = await (await get_services()).backups()
    try:
        report = await backups.restore(job.backup_id, tenant=job.tenant, dry_run=job.dry_run)
    except BackupInvalidError as error:
        outcome = RestoreOutcome(outcome="invalid", problems=error.problems)
    except BackupNotFoundError:
        outcome = RestoreOutcome(outcome="missing", problems=["the backup has no manifest"])
    else:
        outcome = RestoreOutcome(outcome="restored", counts=report.counts)
    return outcome.model_dump(mode="json")
