"""The backup orchestration: one activity per collection in parallel, then the manifest.

Deterministic: the collections are a constant, the time is `context.current_utc_datetime`.
The manifest is written only when every collection's parts are, so a failed backup leaves no
manifest and is never taken for a complete one.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from activities.maintenance import backup_collection, write_backup_manifest
from agentops.backup import BackupWork, CollectionWork, ManifestWork, PartInfo
from agentops.store import COLLECTIONS

bp = df.Blueprint()

BACKUP_ORCHESTRATOR = "store_backup"

# A worker that dies mid-part: the retried activity rewrites the part from the start.
ACTIVITY_CRASH_RETRY = df.RetryOptions(
    first_retry_interval_in_milliseconds=5000, max_number_of_attempts=3
)


@bp.orchestration_trigger(context_name="context")
def store_backup(context: df.DurableOrchestrationContext) -> Generator[Any, Any, dict[str, Any]]:
    work = BackupWork.model_validate(context.get_input())
    tasks = [
        context.call_activity_with_retry(
            backup_collection,
            ACTIVITY_CRASH_RETRY,
            CollectionWork(backup_id=work.backup_id, collection=name).model_dump(mode="json"),
        )
        for name in COLLECTIONS
    ]
    results: list[list[dict[str, Any]]] = yield context.task_all(tasks)
    parts = [PartInfo.model_validate(part) for found in results for part in found]
    manifest = ManifestWork(work=work, created_at=context.current_utc_datetime, parts=tuple(parts))
    summary: dict[str, Any] = yield context.call_activity_with_retry(
        write_backup_manifest, ACTIVITY_CRASH_RETRY, manifest.model_dump(mode="json")
    )
    return summary
