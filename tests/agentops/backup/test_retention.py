"""Retention by fixed dates: backups older than BACKUP_RETENTION_DAYS go, except the newest
full one and every base that a kept incremental needs; manifests go before their parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agentops.backup import CONTAINER, BackupService, BackupWork, Manifest, Watermark
from agentops.backup.manifest import manifest_blob, part_blob
from agentops.backup.retention import expired
from tests.agentops.backup.conftest import snapshot
from tests.agentops.backup.test_incremental import small_fill
from tests.agentops.store.samples import audit

DAY0 = datetime(2026, 10, 1, 0, 5, tzinfo=UTC)


def day_work(day: int) -> BackupWork:
    start = (DAY0 + timedelta(days=day)).replace(minute=0)
    return BackupWork(
        backup_id=f"backup-{start:%Y%m%d%H}",
        period_start=start,
        period_end=start + timedelta(hours=1),
    )


def on(day: float) -> datetime:
    return DAY0 + timedelta(days=day)


@pytest.fixture
async def eight_days(stores, blobs, keys) -> tuple[BackupService, list[Manifest]]:
    """A backup a day for eight days, a chain of three from each full one:
    A0 full, B1 (A), C2 (B), D3 full, E4 (D), F5 (E), G6 full, H7 (G)."""
    source, _ = stores
    await small_fill(source)
    backups = BackupService(source, blobs, keys, full_every=3, retention_days=30)
    made = []
    for day in range(8):
        await source.append_audit(audit(10 + day))
        made.append(await backups.create(day_work(day), now=on(day)))
    assert [m.kind[0] for m in made] == list("fiifiifi")
    return backups, made


def ids(manifests: list[Manifest], letters: str) -> list[str]:
    return [manifests["ABCDEFGH".index(letter)].backup_id for letter in letters]


async def folders(blobs) -> set[str]:
    return {info.name.split("/", 1)[0] async for info in blobs.list_blobs(CONTAINER)}


async def test_young_backups_and_the_bases_they_need_are_kept(eight_days, blobs):
    backups, made = eight_days
    # On day 35 the cutoff is day 5: F is young and needs E and D; A, B, C go.
    dry = await backups.prune(now=on(35), dry_run=True)
    assert dry.deleted == ids(made, "CBA")  # newest first: incrementals before their bases
    assert await folders(blobs) == set(ids(made, "ABCDEFGH"))  # a dry run deletes nothing
    report = await backups.prune(now=on(35))
    assert report.deleted == ids(made, "CBA")
    assert report.kept == ids(made, "HGFED")
    assert await folders(blobs) == set(ids(made, "DEFGH"))
    for backup_id in report.kept:
        assert (await backups.verify(backup_id)).ok
    assert (await backups.prune(now=on(35))).deleted == []  # a rerun finds nothing


async def test_the_newest_full_backup_outlives_the_retention(eight_days, blobs):
    backups, made = eight_days
    # On day 36 the cutoff is day 6: G and H are young, D-E-F no longer needed.
    assert (await backups.prune(now=on(36))).deleted == ids(made, "FEDCBA")
    # Long after: nothing is young, and the newest full backup G stays, alone: H is expired
    # and no kept backup needs it.
    report = await backups.prune(now=on(400))
    assert report.deleted == ids(made, "H")
    assert report.kept == ids(made, "G")
    assert await folders(blobs) == set(ids(made, "G"))


async def test_what_is_kept_still_restores(eight_days, stores, blobs, keys):
    backups, made = eight_days
    source, target = stores
    await backups.prune(now=on(35))
    await BackupService(target, blobs, keys).restore(made[-1].backup_id)
    assert await snapshot(target) == await snapshot(source)


async def test_the_manifest_goes_before_the_parts(eight_days, blobs, monkeypatch):
    """A prune cut short between a manifest and its parts leaves an incomplete backup, never a
    listed one with parts missing; the next prune removes the rest once it is old enough."""
    backups, made = eight_days
    a = made[0]
    original = blobs.delete
    deleted: list[str] = []

    async def failing_delete(container: str, name: str, *, missing_ok: bool = False) -> None:
        deleted.append(name)
        if name == part_blob(a.backup_id, a.parts[0].name):
            raise OSError("disk went away")
        await original(container, name, missing_ok=missing_ok)

    monkeypatch.setattr(blobs, "delete", failing_delete)
    with pytest.raises(OSError):
        await backups.prune(now=on(36))
    assert deleted.index(manifest_blob(a.backup_id)) < deleted.index(
        part_blob(a.backup_id, a.parts[0].name)
    )
    assert a.backup_id not in [m.backup_id for m in await backups.list()]
    monkeypatch.setattr(blobs, "delete", original)
    # The parts left are an incomplete backup: kept while they could be a backup in progress
    # (the blobs were written just now), deleted once older than the retention.
    now = datetime.now(UTC)
    assert (await backups.prune(now=now)).incomplete == []
    assert a.backup_id in await folders(blobs)
    later = await backups.prune(now=now + timedelta(days=31))
    assert later.incomplete == [a.backup_id]
    assert a.backup_id not in await folders(blobs)


async def test_a_damaged_manifest_and_other_blobs_are_left_for_an_operator(eight_days, blobs):
    backups, made = eight_days
    a = made[0]
    await blobs.put(CONTAINER, manifest_blob(a.backup_id), b"{", overwrite=True)
    await blobs.put(CONTAINER, "notes/readme.txt", b"kept by hand")
    await blobs.put(CONTAINER, "loose.bin", b"not in a folder")
    report = await backups.prune(now=datetime.now(UTC) + timedelta(days=400))
    assert a.backup_id not in report.deleted + report.incomplete
    assert report.incomplete == []
    assert await blobs.get(CONTAINER, manifest_blob(a.backup_id)) == b"{"
    assert await blobs.get(CONTAINER, "notes/readme.txt") == b"kept by hand"
    assert await blobs.get(CONTAINER, "loose.bin") == b"not in a folder"


def _manifest(backup_id: str, day: float, base: str | None = None) -> Manifest:
    at = on(day)
    return Manifest(
        backup_id=backup_id,
        kind="full" if base is None else "incremental",
        base=base,
        watermark=Watermark(since=None if base is None else at - timedelta(hours=1), until=at),
        period_start=at,
        period_end=at,
        created_at=at,
        parts=(),
    )


def test_expired_keeps_bases_across_long_chains_and_orphans_go():
    chain = [_manifest("backup-a", 0)]
    for n in range(1, 40):
        chain.append(_manifest(f"backup-a{n:02d}", n, chain[-1].backup_id))
    orphan = _manifest("backup-o", 0.5, "backup-missing")  # its base is gone already
    # Day 45, 30 days: only the last nine incrementals are young, but they need the whole chain.
    assert expired([*chain, orphan], now=on(45), days=30) == [orphan]
    assert expired([], now=on(45), days=30) == []
    with pytest.raises(ValueError):
        expired(chain, now=on(45), days=0)
