"""Activities of scheduled maintenance: thin wrappers over the backup service."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from agentops.backup import CollectionWork, ManifestWork
from agentops.bootstrap import get_services

bp = df.Blueprint()


@bp.activity_trigger(input_name="work")
async def backup_collection(work: dict[str, Any]) -> list[dict[str, Any]]:
    """One collection's parts; rerun after a crash, it rewrites them (the manifest is not yet
    written), and after the manifest it returns what the manifest holds."""
    job = CollectionWork.model_validate(work)
    backups = await (await get_services()).backups()
    parts = await backups.backup_collection(job.backup_id, job.collection)
    return [part.model_dump(mode="json") for part in parts]


@bp.activity_trigger(input_name="work")
async def write_backup_manifest(work: dict[str, Any]) -> dict[str, Any]:
    job = ManifestWork.model_validate(work)
    backups = await (await get_services()).backups()
    manifest = await backups.write_manifest(job.work, list(job.parts), created_at=job.created_at)
    return {"backup_id": manifest.backup_id, "counts": manifest.counts()}
