"""Activities of scheduled maintenance: thin wrappers over the backup service."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import azure.durable_functions as df

from agentops.backup import BackupWork, CollectionWork, ManifestWork, PruneWork
from agentops.bootstrap import get_services

bp = df.Blueprint()


@bp.activity_trigger(input_name="work")
async def plan_backup(work: dict[str, Any]) -> dict[str, Any]:
    """Full or incremental, the watermark, the collections and their ranges: decided here,
    from the manifests, the store and the clock, so that the orchestrator replays the recorded
    decision."""
    job = BackupWork.model_validate(work)
    backups = await (await get_services()).backups()
    return (await backups.plan(job)).model_dump(mode="json")


@bp.activity_trigger(input_name="work")
async def backup_collection(work: dict[str, Any]) -> list[dict[str, Any]]:
    """One collection's (or one range's) parts; rerun after a crash, it rewrites them (the
    manifest is not yet written), and after the manifest it returns what the manifest holds."""
    job = CollectionWork.model_validate(work)
    backups = await (await get_services()).backups()
    parts = await backups.backup_collection(
        job.backup_id,
        job.collection,
        since=job.since,
        key_range=job.key_range,
        range_index=job.range_index,
    )
    return [part.model_dump(mode="json") for part in parts]


@bp.activity_trigger(input_name="work")
async def write_backup_manifest(work: dict[str, Any]) -> dict[str, Any]:
    job = ManifestWork.model_validate(work)
    backups = await (await get_services()).backups()
    manifest = await backups.write_manifest(
        job.work, list(job.parts), created_at=job.created_at, plan=job.plan
    )
    return {
        "backup_id": manifest.backup_id,
        "kind": manifest.kind,
        "base": manifest.base,
        "counts": manifest.counts(),
    }


@bp.activity_trigger(input_name="work")
async def prune_backups(work: dict[str, Any]) -> dict[str, Any]:
    """Retention, at the orchestration's time; a rerun finds less or nothing to delete."""
    job = PruneWork.model_validate(work)
    backups = await (await get_services()).backups()
    report = await backups.prune(now=job.now.astimezone(UTC))
    return {"deleted": report.deleted, "incomplete": report.incomplete}
