"""The restore orchestration: one activity that verifies the backup and restores it.

Restore is one activity because it verifies the whole backup before it writes anything; it
runs as an orchestration only so that it can outlast an HTTP request. A backup that fails
verification fails the orchestration (it is not retried: reading it again finds the same
faults), with the problems in the custom status for the status route to report.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from activities.restore import restore_backup
from agentops.backup.restores import RestoreOutcome, RestoreRefusedError, RestoreWork
from orchestrations.maintenance import ACTIVITY_CRASH_RETRY

bp = df.Blueprint()

RESTORE_ORCHESTRATOR = "store_restore"


@bp.orchestration_trigger(context_name="context")
def store_restore(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    work = RestoreWork.model_validate(context.get_input())
    result = yield context.call_activity_with_retry(
        restore_backup, ACTIVITY_CRASH_RETRY, work.model_dump(mode="json")
    )
    outcome = RestoreOutcome.model_validate(result)
    if outcome.outcome != "restored":
        context.set_custom_status({"problems": outcome.problems})
        raise RestoreRefusedError(
            f"backup {work.backup_id} was not restored: " + "; ".join(outcome.problems)
        )
    return {
        "backup_id": work.backup_id,
        "dry_run": work.dry_run,
        "tenant": work.tenant,
        "counts": outcome.counts,
    }
