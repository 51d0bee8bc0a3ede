"""Whether the next backup is full or incremental, and what it covers: pure functions of the
manifests already written, so that the activity that calls them gives the same answer to every
replay of the orchestration that recorded it.

A chain is a full backup and the incrementals built on it, each on the one before. A new backup
is full when there is no usable chain (none yet, a broken link, a manifest from before
watermarks, a collection that a link lacks) or when the newest chain already holds
`full_every` backups; otherwise it is an incremental on the newest backup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from agentops.backup.contracts import BackupPlan, BackupWork
from agentops.backup.manifest import Manifest, Watermark

# How far before the previous backup's upper bound an incremental starts: clock skew between the
# app and the store, and Cosmos DB's `_ts` in whole seconds. Overlap only rewrites a document
# with the same content on restore.
SINCE_MARGIN = timedelta(seconds=60)
# Longer chains than this are refused as damaged (a loop of bases, say): BACKUP_FULL_EVERY is
# bounded well below it.
MAX_CHAIN = 10_000


def chain_of(manifest: Manifest, by_id: Mapping[str, Manifest]) -> list[Manifest] | None:
    """The backups a restore of `manifest` applies, oldest (the full one) first; None when a
    link is missing or the bases loop."""
    chain = [manifest]
    while chain[0].base is not None:
        base = by_id.get(chain[0].base)
        if base is None or len(chain) >= MAX_CHAIN:
            return None
        chain.insert(0, base)
    return chain


def next_plan(
    work: BackupWork,
    prior: Sequence[Manifest],
    *,
    until: datetime,
    full_every: int,
    collections: Sequence[str],
    margin: timedelta = SINCE_MARGIN,
) -> BackupPlan:
    """The plan of `work`, given the complete backups before it (any order) and the store's
    time now (`until`)."""
    everything = Watermark(since=None, until=until)
    full = BackupPlan(
        backup_id=work.backup_id, kind="full", watermark=everything, collections=tuple(collections)
    )
    earlier = [m for m in prior if m.backup_id != work.backup_id]
    if not earlier or full_every <= 1:
        return full
    newest = max(earlier, key=lambda m: (m.created_at, m.backup_id))
    chain = chain_of(newest, {m.backup_id: m for m in earlier})
    if chain is None or len(chain) >= full_every:
        return full
    for link in chain:
        covered = set(link.collections)
        if link.watermark is None or not set(collections) <= covered:
            return full
    assert newest.watermark is not None
    since = min(newest.watermark.until - margin, until)
    return BackupPlan(
        backup_id=work.backup_id,
        kind="incremental",
        base=newest.backup_id,
        watermark=Watermark(since=since, until=until),
        collections=tuple(collections),
    )


def plan_of(manifest: Manifest) -> BackupPlan:
    """The plan a written backup followed: a retried plan step after the manifest exists."""
    watermark = manifest.watermark or Watermark(since=None, until=manifest.created_at)
    return BackupPlan(
        backup_id=manifest.backup_id,
        kind=manifest.kind,
        base=manifest.base,
        watermark=watermark,
        collections=manifest.collections,
    )
