"""Incremental backups: chains restore to the same state as a full backup of the end state,
broken chains are refused whole, and BACKUP_FULL_EVERY sets where chains start.

The chain tests run on SQLite and on the Cosmos DB adapter (whose `_ts` counts whole seconds:
the steps sleep into a fresh second so that each incremental holds only its own changes)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from agentops.backup import BackupInvalidError, BackupService, BackupWork, Manifest
from agentops.backup.manifest import CONTAINER, manifest_blob, part_blob
from agentops.blobs.local import LocalBlobStore
from agentops.store import COLLECTIONS, ItemError
from agentops.store.sqlite import SqliteStore
from tests.agentops.backup.conftest import snapshot
from tests.agentops.store.samples import ALICE, answer, audit, make_run, msgs

T = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)


def work(n: int) -> BackupWork:
    start = T + timedelta(hours=n)
    return BackupWork(
        backup_id=f"backup-{start:%Y%m%d%H}",
        period_start=start,
        period_end=start + timedelta(hours=1),
    )


def at(n: int) -> datetime:
    return T + timedelta(hours=n, minutes=5)


async def next_tick(store) -> None:
    """Past the store's clock resolution, so that it tells writes before and after apart: a
    fresh whole second for Cosmos DB's `_ts`, a few milliseconds for SQLite's `modified_at`."""
    if isinstance(store, SqliteStore):
        await asyncio.sleep(0.005)
        return
    now = datetime.now(UTC)
    await asyncio.sleep(1.05 - now.microsecond / 1e6)


async def small_fill(store) -> None:
    for n, tenant in enumerate(("acme", "globex")):
        await store.create_run(make_run(f"run-{n}", tenant, total=20))
        await store.add_items(f"run-{n}", [f"q{n}-{i}" for i in range(20)])
        await store.append_audit(audit(0, tenant))
        await store.add_usage(f"tenant:{tenant}", date(2026, 11, 1), 10, 0.01)
    await store.append_messages("t-acme", ALICE, msgs("hi", "hello"), max_messages=10)
    await store.cache_put("k0", {"v": 0}, ttl_s=3600)


async def first_changes(store) -> None:
    for index in range(5):
        await store.complete_item("run-0", index, answer(f"a{index}"))
    await store.create_run(make_run("run-2", "globex", total=3))
    await store.add_items("run-2", ["x", "y", "z"])
    await store.append_messages("t-acme", ALICE, msgs("more", "sure"), max_messages=10)
    await store.append_audit(audit(1, "acme"))
    await store.add_usage("tenant:acme", date(2026, 11, 1), 5, 0.01)
    await store.cache_put("k1", {"v": 1}, ttl_s=3600)


async def second_changes(store) -> None:
    await store.complete_item("run-2", 0, answer("x!"))
    await store.complete_item("run-1", 7, answer("seven"))
    await store.record_attempt("run-1", 8, _error())
    owner = type(ALICE)("globex", "bob@globex", "calc")
    await store.append_messages("t-globex", owner, msgs("hey"), max_messages=10)
    await store.append_audit(audit(1, "globex"))
    await store.add_usage("tenant:acme", date(2026, 11, 2), 1, 0.001)


def _error() -> ItemError:
    return ItemError(kind="transient", message="slow")


async def rewrite(blobs: LocalBlobStore, backup_id: str, manifest: str) -> None:
    await blobs.put(CONTAINER, manifest_blob(backup_id), manifest.encode(), overwrite=True)


async def _chain(store, blobs, keys) -> tuple[BackupService, list[Manifest]]:
    """full, changes, incremental, more changes, incremental."""
    backups = BackupService(store, blobs, keys, since_margin=timedelta(0))
    await small_fill(store)
    await next_tick(store)
    manifests = [await backups.create(work(0), now=at(0))]
    await next_tick(store)
    await first_changes(store)
    await next_tick(store)
    manifests.append(await backups.create(work(1), now=at(1)))
    await next_tick(store)
    await second_changes(store)
    await next_tick(store)
    manifests.append(await backups.create(work(2), now=at(2)))
    return backups, manifests


async def test_a_chain_restores_to_what_a_full_backup_of_the_end_state_gives(
    store_factory, tmp_path: Path, keys
):
    source = await store_factory()
    blobs = LocalBlobStore(tmp_path / "blobs")
    _, (full, inc1, inc2) = await _chain(source, blobs, keys)
    assert (full.kind, full.base) == ("full", None)
    assert (inc1.kind, inc1.base, inc2.kind, inc2.base) == (
        "incremental",
        full.backup_id,
        "incremental",
        inc1.backup_id,
    )
    assert inc1.watermark.since == full.watermark.until  # no margin asked for here
    assert inc2.watermark.since == inc1.watermark.until
    # Each incremental holds its own changes only.
    assert inc1.counts() == {
        "runs": 1,
        "items": 8,
        "threads": 1,
        "cache": 1,
        "usage": 1,
        "audit": 1,
        "reports": 0,
    }
    assert inc2.counts() == {
        "runs": 0,
        "items": 3,
        "threads": 1,
        "cache": 0,
        "usage": 1,
        "audit": 1,
        "reports": 0,
    }

    # A full backup of the end state, for comparison, in a blob store of its own.
    other_blobs = LocalBlobStore(tmp_path / "other")
    other = BackupService(source, other_blobs, keys, full_every=1)
    reference = await other.create(work(3), now=at(3))
    assert reference.kind == "full"

    by_chain, by_full = await store_factory(), await store_factory()
    report = await BackupService(by_chain, blobs, keys).restore(inc2.backup_id)
    assert report.chain == (full.backup_id, inc1.backup_id, inc2.backup_id)
    await BackupService(by_full, other_blobs, keys).restore(reference.backup_id)
    expected = await snapshot(source)
    assert await snapshot(by_chain) == expected
    assert await snapshot(by_full) == expected
    # Restoring an earlier link gives the state at that backup: run-2 exists, not its answer.
    earlier = await store_factory()
    await BackupService(earlier, blobs, keys).restore(inc1.backup_id)
    run_2 = {
        d["index"]: d["status"]
        async for d in earlier.iter_collection("items")
        if d["run_id"] == "run-2"
    }
    assert run_2 == {0: "pending", 1: "pending", 2: "pending"}


async def test_a_tenant_restores_alone_over_a_chain(store_factory, tmp_path: Path, keys):
    source = await store_factory()
    blobs = LocalBlobStore(tmp_path / "blobs")
    _, (_, _, inc2) = await _chain(source, blobs, keys)
    target = await store_factory()
    dry = await BackupService(target, blobs, keys).restore(
        inc2.backup_id, tenant="globex", dry_run=True
    )
    assert all(not docs for docs in (await snapshot(target)).values())
    report = await BackupService(target, blobs, keys).restore(inc2.backup_id, tenant="globex")
    assert report.counts == dry.counts
    everything = await snapshot(source)
    restored = await snapshot(target)
    globex_runs = {d["run_id"] for d in everything["runs"] if d["tenant_id"] == "globex"}
    assert globex_runs == {"run-1", "run-2"}
    for name in ("runs", "threads", "audit"):
        assert restored[name] == [d for d in everything[name] if d["tenant_id"] == "globex"]
    # Items of run-2 come from the incremental that created the run and the one after it.
    assert restored["items"] == [d for d in everything["items"] if d["run_id"] in globex_runs]
    assert restored["usage"] == [d for d in everything["usage"] if d["scope"] == "tenant:globex"]
    assert restored["cache"] == []


@pytest.fixture
async def chain(stores, blobs, keys) -> tuple[BackupService, list[Manifest]]:
    source, _ = stores
    return await _chain(source, blobs, keys)


async def _refused(stores, blobs, keys, backup_id: str, match: str) -> None:
    target = stores[1]
    restorer = BackupService(target, blobs, keys)
    report = await restorer.verify(backup_id)
    assert not report.ok
    with pytest.raises(BackupInvalidError, match=match):
        await restorer.restore(backup_id)
    with pytest.raises(BackupInvalidError, match=match):
        await restorer.restore(backup_id, tenant="acme", dry_run=True)
    assert all(not docs for docs in (await snapshot(target)).values())


async def test_a_missing_base_is_refused_naming_it(chain, stores, blobs, keys):
    _, (full, inc1, inc2) = chain
    (blobs.root / CONTAINER / manifest_blob(full.backup_id)).unlink()
    await _refused(
        stores, blobs, keys, inc2.backup_id, f"base {full.backup_id} of {inc1.backup_id} is missing"
    )
    # The link alone is no better.
    await _refused(stores, blobs, keys, inc1.backup_id, f"base {full.backup_id}")


async def test_a_flipped_byte_in_a_base_part_is_refused_naming_it(chain, stores, blobs, keys):
    _, (full, _, inc2) = chain
    name = next(p.name for p in full.parts if p.collection == "items")
    path = blobs.root / CONTAINER / part_blob(full.backup_id, name)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    await _refused(stores, blobs, keys, inc2.backup_id, f"base {full.backup_id}: {name}")


async def test_a_base_that_does_not_reach_the_incremental_is_refused(chain, stores, blobs, keys):
    """A base whose watermark ends before the incremental starts leaves a gap: refused."""
    _, (full, inc1, inc2) = chain
    early = inc1.model_copy(
        update={"watermark": inc1.watermark.model_copy(update={"until": full.watermark.until})}
    )
    await rewrite(blobs, inc1.backup_id, early.model_dump_json())
    await _refused(stores, blobs, keys, inc2.backup_id, "does not reach")


async def test_a_damaged_manifest_is_refused_and_not_listed(chain, stores, blobs, keys):
    backups, (full, _, inc2) = chain
    await rewrite(blobs, full.backup_id, '{"backup_id": 1}')
    await _refused(stores, blobs, keys, inc2.backup_id, "not a valid manifest")
    assert full.backup_id not in [m.backup_id for m in await backups.list()]


async def test_full_every_sets_where_chains_start(stores, blobs, keys):
    source, _ = stores
    await small_fill(source)
    backups = BackupService(source, blobs, keys, full_every=3)
    made = []
    for n in range(7):
        await source.append_audit(audit(10 + n))
        made.append(await backups.create(work(n), now=at(n)))
    kinds = [m.kind for m in made]
    assert kinds == ["full", "incremental", "incremental"] * 2 + ["full"]
    assert [m.base for m in made] == [
        None,
        made[0].backup_id,
        made[1].backup_id,
        None,
        made[3].backup_id,
        made[4].backup_id,
        None,
    ]
    # Planning a backup that exists gives its plan again (a retried plan activity).
    again = await backups.plan(work(4))
    assert (again.kind, again.base, again.watermark) == (
        "incremental",
        made[3].backup_id,
        made[4].watermark,
    )
    # The default margin starts an incremental a minute before its base's upper bound.
    assert made[4].watermark.since == made[3].watermark.until - timedelta(seconds=60)
    for manifest in made:
        assert (await backups.verify(manifest.backup_id)).ok
    assert [m.backup_id for m in await backups.list()] == [m.backup_id for m in reversed(made)]

    every = BackupService(source, blobs, keys, full_every=1)
    assert (await every.create(work(7), now=at(7))).kind == "full"


async def test_a_manifest_from_before_incrementals_reads_and_starts_a_new_chain(
    stores, blobs, keys
):
    source, target = stores
    await small_fill(source)
    backups = BackupService(source, blobs, keys)
    legacy = await backups.create(work(0), now=at(0))
    # Rewrite its manifest as schema version 1 wrote it: kind full, no base, no watermark.
    raw = json.loads(legacy.model_dump_json())
    for key in ("base", "watermark", "collections"):
        del raw[key]
    raw["schema_version"] = 1
    # It held the collections of its day: a collection the store has gained since is not
    # missing from it.
    raw["parts"] = [p for p in raw["parts"] if p["collection"] != "reports"]
    await rewrite(blobs, legacy.backup_id, json.dumps(raw))
    old = await backups.manifest(legacy.backup_id)
    assert (old.kind, old.base, old.watermark) == ("full", None, None)
    assert (await backups.verify(legacy.backup_id)).ok
    # What it covers is unknown, so the next backup cannot build on it.
    assert (await backups.create(work(1), now=at(1))).kind == "full"
    assert (await backups.create(work(2), now=at(2))).kind == "incremental"
    await BackupService(target, blobs, keys).restore(legacy.backup_id)
    assert await snapshot(target) == await snapshot(source)


async def test_a_collection_that_a_chain_lacks_starts_a_new_chain(stores, blobs, keys, monkeypatch):
    """A collection added by a deployment is not in the backups before it: the next backup is
    full, or a restore of the chain would miss that collection's older documents."""
    source, _ = stores
    await small_fill(source)
    backups = BackupService(source, blobs, keys)
    first = await backups.create(work(0), now=at(0))
    without_audit = first.model_copy(
        update={
            "parts": tuple(p for p in first.parts if p.collection != "audit"),
            "collections": tuple(c for c in first.collections if c != "audit"),
        }
    )
    await rewrite(blobs, first.backup_id, without_audit.model_dump_json())
    assert "audit" in COLLECTIONS
    assert (await backups.plan(work(1))).kind == "full"


async def test_settings_bound_the_chain_and_retention(monkeypatch):
    from pydantic import ValidationError

    from agentops.settings import Settings

    defaults = Settings()
    assert (defaults.backup_full_every, defaults.backup_retention_days) == (24, 30)
    monkeypatch.setenv("BACKUP_FULL_EVERY", "6")
    monkeypatch.setenv("BACKUP_RETENTION_DAYS", "7")
    assert (Settings().backup_full_every, Settings().backup_retention_days) == (6, 7)
    for name, value in (
        ("BACKUP_FULL_EVERY", "0"),
        ("BACKUP_RETENTION_DAYS", "0"),
        ("BACKUP_FULL_EVERY", "x"),
    ):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError, match=name):
            Settings()
        monkeypatch.delenv(name)
