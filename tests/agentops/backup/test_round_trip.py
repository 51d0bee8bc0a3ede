"""Backups restore to identical documents; damaged or foreign backups are refused whole."""

from __future__ import annotations

import json
import os

import pytest

from agentops.backup import BackupInvalidError, BackupKeys, BackupService
from agentops.backup.frames import FrameWriter, PartFormatError, read_documents
from agentops.backup.manifest import CONTAINER, part_blob
from agentops.store import COLLECTIONS
from tests.agentops.backup.conftest import NOW, WORK, fill, key_secret, snapshot


async def test_ten_thousand_items_round_trip_through_parts(stores, blobs, keys):
    source, target = stores
    await fill(source, items=10_000)
    before = await snapshot(source)
    assert len(before["items"]) == 10_000
    assert all(before[name] for name in COLLECTIONS)
    # Small parts, so that the items span several and part boundaries are exercised.
    backups = BackupService(source, blobs, keys, part_bytes=64 * 1024)
    manifest = await backups.create(WORK, now=NOW)
    assert manifest.counts() == {name: len(docs) for name, docs in before.items()}
    assert len([p for p in manifest.parts if p.collection == "items"]) > 1

    restorer = BackupService(target, blobs, keys)
    dry = await restorer.restore(WORK.backup_id, dry_run=True)
    assert dry.counts == manifest.counts()
    assert all(not docs for docs in (await snapshot(target)).values())  # a dry run writes nothing

    report = await restorer.restore(WORK.backup_id)
    assert report.counts == manifest.counts()
    assert await snapshot(target) == before
    await restorer.restore(WORK.backup_id)  # twice: the same state
    assert await snapshot(target) == before
    assert [m.backup_id for m in await restorer.list()] == [WORK.backup_id]


async def test_one_tenant_restores_alone(stores, blobs, keys):
    source, target = stores
    await fill(source, items=2000)
    backups = BackupService(source, blobs, keys)
    await backups.create(WORK, now=NOW)
    report = await BackupService(target, blobs, keys).restore(WORK.backup_id, tenant="globex")
    after = await snapshot(target)
    assert {d["tenant_id"] for name in ("runs", "threads", "audit") for d in after[name]} == {
        "globex"
    }
    assert {d["run_id"] for d in after["items"]} == {"run-1"}
    assert [d["scope"] for d in after["usage"]] == ["tenant:globex"]
    assert after["cache"] == []
    assert after["reports"] == []  # reports span tenants: not one tenant's to restore
    assert report.counts["items"] == 1000


async def test_a_second_backup_of_the_same_period_keeps_the_first(stores, blobs, keys):
    source, _ = stores
    await fill(source, items=1000)
    backups = BackupService(source, blobs, keys)
    first = await backups.create(WORK, now=NOW)
    await source.cache_put("late", {"v": 1}, ttl_s=60)
    again = await backups.create(WORK, now=NOW)
    assert again == first
    assert (await backups.verify(WORK.backup_id)).ok


async def _backed_up(stores, blobs, keys) -> BackupService:
    source, _ = stores
    await fill(source, items=1000)
    backups = BackupService(source, blobs, keys)
    await backups.create(WORK, now=NOW)
    return backups


def _items_part(blobs) -> str:
    parts = sorted((blobs.root / CONTAINER / WORK.backup_id).glob("items-*"))
    return parts[0].name


async def test_a_flipped_byte_is_refused_and_nothing_is_written(stores, blobs, keys):
    await _backed_up(stores, blobs, keys)
    path = blobs.root / CONTAINER / part_blob(WORK.backup_id, _items_part(blobs))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    target = stores[1]
    restorer = BackupService(target, blobs, keys)
    report = await restorer.verify(WORK.backup_id)
    assert not report.ok and _items_part(blobs) in report.problems[0]
    with pytest.raises(BackupInvalidError, match=r"does not decrypt|do not match"):
        await restorer.restore(WORK.backup_id)
    assert all(not docs for docs in (await snapshot(target)).values())


async def test_a_missing_part_is_refused_and_nothing_is_written(stores, blobs, keys):
    await _backed_up(stores, blobs, keys)
    (blobs.root / CONTAINER / part_blob(WORK.backup_id, _items_part(blobs))).unlink()
    target = stores[1]
    with pytest.raises(BackupInvalidError, match="items-r0000-00000"):
        await BackupService(target, blobs, keys).restore(WORK.backup_id)
    assert all(not docs for docs in (await snapshot(target)).values())


async def test_a_wrong_key_is_refused_and_nothing_is_written(stores, blobs, keys):
    await _backed_up(stores, blobs, keys)
    target = stores[1]
    other = BackupKeys.from_secret(key_secret("k1"))  # the same id, another key
    with pytest.raises(BackupInvalidError, match="does not decrypt"):
        await BackupService(target, blobs, other).restore(WORK.backup_id)
    missing = BackupKeys.from_secret(key_secret("k2"))
    with pytest.raises(BackupInvalidError, match="no key 'k1'"):
        await BackupService(target, blobs, missing).restore(WORK.backup_id)
    assert all(not docs for docs in (await snapshot(target)).values())


async def test_a_part_cut_at_a_frame_boundary_is_refused(keys):
    """Cut at a frame boundary, every frame left still decrypts: only the final-frame flag,
    bound into each frame's associated data, shows that the part ends early."""
    writer = FrameWriter(keys.aead("k1"), WORK.backup_id, "items-00000")
    docs = [{"id": str(n), "blob": os.urandom(600).hex()} for n in range(6000)]  # 4 frames
    data = b"".join(writer.write(json.dumps(d).encode() + b"\n") for d in docs) + writer.close()
    frames, offset = [], 0
    while offset < len(data):
        end = offset + 5 + int.from_bytes(data[offset + 1 : offset + 5], "big")
        frames.append(data[offset:end])
        offset = end
    assert len(frames) > 2

    async def read(chunks: list[bytes], part: str = "items-00000") -> list[dict]:
        async def source():
            for chunk in chunks:
                yield chunk

        return [d async for d in read_documents(source(), keys.aead("k1"), WORK.backup_id, part)]

    assert await read([data[i : i + 4096] for i in range(0, len(data), 4096)]) == docs
    with pytest.raises(PartFormatError, match="truncated"):
        await read(frames[:-1])
    with pytest.raises(PartFormatError, match="frame 1 does not decrypt"):
        await read([frames[0], frames[2], *frames[3:]])  # a frame dropped from the middle
    with pytest.raises(PartFormatError, match="frame 0 does not decrypt"):
        await read(frames, part="items-00001")  # moved to another part


def test_keys_are_checked_without_showing_them():
    from pydantic import SecretStr

    with pytest.raises(ValueError, match="BACKUP_ENCRYPTION_KEY is not set"):
        BackupKeys.from_secret(None)
    with pytest.raises(ValueError, match="32 bytes"):
        BackupKeys.from_secret(key_secret("k", b"short"))
    with pytest.raises(ValueError, match="not JSON") as raised:
        BackupKeys.from_secret(SecretStr("c2VjcmV0"))
    assert "c2VjcmV0" not in str(raised.value)


async def test_reading_inflates_a_bounded_slice_at_a_time(keys):
    """Repetitive documents compress a hundredfold: a frame inflated whole would hold all of
    them (20 MiB here) in memory at once."""
    import tracemalloc

    writer = FrameWriter(keys.aead("k1"), WORK.backup_id, "items-00000")
    line = json.dumps({"id": "x", "query": "a" * 1000}).encode() + b"\n"
    data = b"".join(writer.write(line) for _ in range(20_000)) + writer.close()
    assert len(data) < 1024 * 1024  # one frame

    async def source():
        yield data

    tracemalloc.start()
    try:
        count = 0
        async for _ in read_documents(source(), keys.aead("k1"), WORK.backup_id, "items-00000"):
            count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < 4 * 1024 * 1024


async def test_collections_split_into_ranges_round_trip(stores, blobs, keys):
    """Ranges of about 300 items, each in parts of its own, named by range: restored, the
    store is the same, and every item is in exactly one range."""
    source, target = stores
    await fill(source, items=2000)
    before = await snapshot(source)
    backups = BackupService(source, blobs, keys, range_docs=300)
    plan = await backups.plan(WORK)
    items = [r for r in plan.ranges if r.collection == "items"]
    assert len(items) == 2000 // 300 + 1
    manifest = await backups.create(WORK, now=NOW)
    names = [p.name for p in manifest.parts]
    assert len(set(names)) == len(names)
    item_parts = [p for p in manifest.parts if p.collection == "items"]
    assert {p.range_index for p in item_parts} == set(range(len(items)))
    assert "items-r0006-00000.jsonl.gz.aes" in names
    assert sum(p.count for p in item_parts) == 2000
    await BackupService(target, blobs, keys).restore(WORK.backup_id)
    assert await snapshot(target) == before
