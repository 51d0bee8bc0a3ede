"""Which backups retention removes: a pure function of the manifests and the time.

A backup is kept while it is younger than the retention, and so are the newest full backup
(whatever its age, so that something always restores) and every backup in the chain of a kept
one (an incremental is worthless without its bases). Everything else goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from agentops.backup.manifest import Manifest


def expired(manifests: Sequence[Manifest], *, now: datetime, days: int) -> list[Manifest]:
    """The backups to delete, newest first: an incremental goes before the bases it names, so
    a prune cut short never leaves a backup whose base is gone while it still lists."""
    if days < 1:
        raise ValueError("the retention is at least one day")
    cutoff = now - timedelta(days=days)
    newest_first = sorted(manifests, key=lambda m: (m.created_at, m.backup_id), reverse=True)
    by_id = {m.backup_id: m for m in newest_first}
    keep = {m.backup_id for m in newest_first if m.created_at >= cutoff}
    newest_full = next((m for m in newest_first if m.kind == "full"), None)
    if newest_full is not None:
        keep.add(newest_full.backup_id)
    for backup_id in list(keep):
        base = by_id[backup_id].base
        while base is not None and base in by_id and base not in keep:
            keep.add(base)
            base = by_id[base].base
    return [m for m in newest_first if m.backup_id not in keep]
