"""The backup orchestration: a plan, one activity per (collection, range) in parallel, the
manifest, then retention.

Deterministic: whether the backup is full or incremental, its watermark, the collections and
their ranges come from the plan activity (recorded in the history, so a replay, or a deployment
that adds a collection mid-run, does not change the actions); the time is
`context.current_utc_datetime`.
The manifest is written only when every collection's parts are, so a failed backup leaves no
manifest and is never taken for a complete one. Retention runs last, after the new backup is
complete, so it never prunes what the new one builds on before it exists.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from activities.maintenance import (
    backup_collection,
    plan_backup,
    prune_backups,
    write_backup_manifest,
)
from agentops.backup import (
    BackupPlan,
    BackupWork,
    ManifestWork,
    PartInfo,
    PruneWork,
    collection_work,
)

bp = df.Blueprint()

BACKUP_ORCHESTRATOR = "store_backup"

# A worker that dies mid-part: the retried activity rewrites the part from the start.
ACTIVITY_CRASH_RETRY = df.RetryOptions(
    first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3
)


@bp.orchestration_trigger(context_name="context")
def store_backup(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    work = BackupWork.model_validate(context.get_input())
    planned = yield context.call_activity_with_retry(
        plan_backup, ACTIVITY_CRASH_RETRY, work.model_dump(mode="json")
    )
    plan = BackupPlan.model_validate(planned)
    tasks = [
        context.call_activity_with_retry(
            backup_collection, ACTIVITY_CRASH_RETRY, job.model_dump(mode="json")
        )
        for job in collection_work(plan)
    ]
    results: list[list[dict[str, Any]]] = yield context.task_all(tasks)
    parts = [PartInfo.model_validate(part) for found in results for part in found]
    manifest = ManifestWork(
        work=work, created_at=context.current_utc_datetime, parts=tuple(parts), plan=plan
    )
    summary: dict[str, Any] = yield context.call_activity_with_retry(
        write_backup_manifest, ACTIVITY_CRASH_RETRY, manifest.model_dump(mode="json")
    )
    pruned: dict[str, Any] = yield context.call_activity_with_retry(
        prune_backups,
        ACTIVITY_CRASH_RETRY,
        PruneWork(now=context.current_utc_datetime).model_dump(mode="json"),
    )
    return {**summary, "pruned": pruned}
