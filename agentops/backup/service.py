"""Backups of the store to the blob store, their verification, restore and retention.

One `BackupService` serves the durable activities (a plan, one collection per activity, the
manifest, then pruning) and the CLI (the same steps in one process). Everything streams:
documents go from the store through gzip and AES-GCM frames into blobs, and back, with memory
bounded by a frame and a restore batch, whatever the size of the store.

Incremental backups hold the documents written since their base (`planning`); a restore applies
the whole chain, full backup first, each link verified before anything is written.

Deletions: the store deletes documents only when cache entries expire (SQLite deletes expired
rows, Cosmos DB's TTL removes them). An incremental backup cannot see a deletion, so a restored
chain brings back cache entries that expired after its full backup was taken. They carry their
`expires_at`, which every cache read compares with the clock: they are misses, and SQLite purges
them again, Cosmos DB after their `ttl` from the restore. Nothing else is ever deleted.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from agentops.backup import planning, retention
from agentops.backup.contracts import (
    BackupPlan,
    BackupWork,
    PlannedRange,
    check_backup_id,
    collection_work,
)
from agentops.backup.frames import FrameWriter, PartFormatError, read_documents
from agentops.backup.keys import BackupKeyError, BackupKeys
from agentops.backup.manifest import (
    CONTAINER,
    MANIFEST_NAME,
    Manifest,
    PartInfo,
    manifest_blob,
    part_blob,
)
from agentops.blobs import BlobExistsError, BlobNotFoundError, BlobStore
from agentops.maintenance_metrics import counts_failures, maintenance_finished
from agentops.store.containers import COLLECTIONS, check_collection
from agentops.store.ports import CollectionStore

logger = logging.getLogger(__name__)

DEFAULT_PART_BYTES = 64 * 1024 * 1024  # compressed bytes after which a part is closed
DEFAULT_RANGE_DOCS = 100_000  # documents per range where the store splits by count (SQLite)
RESTORE_BATCH = 500
_CONTENT_TYPE = "application/vnd.agentops.backup-part"


class BackupNotFoundError(LookupError):
    """No complete backup (no manifest) by that id."""


class BackupInvalidError(ValueError):
    """A backup failed verification; `problems` names each fault."""

    def __init__(self, backup_id: str, problems: list[str]) -> None:
        super().__init__(f"backup {backup_id} failed verification: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class VerifyReport:
    backup_id: str
    counts: dict[str, int]  # documents over the whole chain
    problems: list[str]
    chain: tuple[str, ...] = ()  # the backups a restore applies, the full one first

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class RestoreReport:
    backup_id: str
    dry_run: bool
    tenant: str | None
    counts: dict[str, int] = field(default_factory=dict)  # documents written (or to write)
    chain: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PruneReport:
    dry_run: bool
    deleted: list[str]  # complete backups, newest first
    incomplete: list[str]  # folders without a manifest, older than the retention
    kept: list[str]


class BackupService:
    def __init__(
        self,
        store: CollectionStore,
        blobs: BlobStore,
        keys: BackupKeys,
        *,
        part_bytes: int = DEFAULT_PART_BYTES,
        full_every: int = 24,
        retention_days: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        since_margin: timedelta = planning.SINCE_MARGIN,
        range_docs: int = DEFAULT_RANGE_DOCS,
    ) -> None:
        if part_bytes < 1 or range_docs < 1:
            raise ValueError("part_bytes and range_docs are at least 1")
        if full_every < 1 or retention_days < 1:
            raise ValueError("full_every and retention_days are at least 1")
        self._store = store
        self._blobs = blobs
        self._keys = keys
        self._part_bytes = part_bytes
        self._full_every = full_every
        self._retention_days = retention_days
        # The store's modification clock (SQLite's and Cosmos DB's are the wall clock): the
        # watermarks come from it, while `created_at` is the caller's time.
        self._clock = clock
        self._since_margin = since_margin
        self._range_docs = range_docs

    # -- backup ---------------------------------------------------------------------------
    async def create(self, work: BackupWork, *, now: datetime) -> Manifest:
        """A whole backup in this process: the plan, every range, then the manifest."""
        plan = await self.plan(work)
        parts: list[PartInfo] = []
        for job in collection_work(plan):
            parts += await self.backup_collection(
                job.backup_id,
                job.collection,
                since=job.since,
                key_range=job.key_range,
                range_index=job.range_index,
            )
        return await self.write_manifest(work, parts, created_at=now, plan=plan)

    @counts_failures("backup")
    async def plan(self, work: BackupWork) -> BackupPlan:
        """Full or incremental, from the complete backups so far (see `planning`); the upper
        watermark is the store's clock now, before any document is read. A backup that is
        already complete keeps its plan."""
        existing = await self._find_manifest(work.backup_id)
        if existing is not None:
            return planning.plan_of(existing)
        plan = planning.next_plan(
            work,
            await self.list(),
            until=self._clock(),
            full_every=self._full_every,
            collections=COLLECTIONS,
            margin=self._since_margin,
        )
        ranges: list[PlannedRange] = []
        for collection in plan.collections:
            tokens = await self._store.collection_ranges(
                collection, since=plan.watermark.since, target_docs=self._range_docs
            )
            ranges += [
                PlannedRange(collection=collection, index=index, key_range=token)
                for index, token in enumerate(tokens)
            ]
        return plan.model_copy(update={"ranges": tuple(ranges)})

    @counts_failures("backup")
    async def backup_collection(
        self,
        backup_id: str,
        collection: str,
        *,
        since: datetime | None = None,
        key_range: dict[str, Any] | None = None,
        range_index: int | None = None,
    ) -> list[PartInfo]:
        """Write the parts of one collection, or of one of its ranges: every document, or
        those written at or after `since`. Parts are overwritten until the manifest exists (a
        retried activity rewrites them); after that the backup is sealed and left alone."""
        check_backup_id(backup_id)
        check_collection(collection)
        if (key_range is None) != (range_index is None):
            raise ValueError("a range comes with its index, and an index with its range")
        existing = await self._find_manifest(backup_id)
        if existing is not None:
            return [
                p
                for p in existing.parts
                if p.collection == collection
                and (range_index is None or p.range_index == range_index)
            ]
        docs = aiter(self._store.iter_collection(collection, since=since, key_range=key_range))
        head: list[dict[str, Any]] = []
        first = await anext(docs, None)
        if first is not None:
            head.append(first)
        parts: list[PartInfo] = []
        while True:
            part = await self._write_part(
                backup_id, collection, range_index, len(parts), head, docs
            )
            parts.append(part)
            if not head:  # the source is exhausted
                return parts

    async def _write_part(
        self,
        backup_id: str,
        collection: str,
        range_index: int | None,
        seq: int,
        head: list[dict[str, Any]],
        docs: AsyncIterator[dict[str, Any]],
    ) -> PartInfo:
        """One part from `head` (the next document, if any) and `docs`; leaves in `head` the
        first document of the next part, or nothing when the source is exhausted."""
        ranged = "" if range_index is None else f"r{range_index:04d}-"
        name = f"{collection}-{ranged}{seq:05d}.jsonl.gz.aes"
        key_id = self._keys.active
        writer = FrameWriter(self._keys.aead(key_id), backup_id, name)
        digest = hashlib.sha256()
        stored = count = 0

        async def frames() -> AsyncIterator[bytes]:
            nonlocal stored, count
            while head:
                doc = head.pop()
                count += 1
                out = writer.write(json.dumps(doc, separators=(",", ":")).encode() + b"\n")
                if out:
                    digest.update(out)
                    stored += len(out)
                    yield out
                following = await anext(docs, None)
                if following is not None:
                    head.append(following)
                    if writer.compressed >= self._part_bytes:
                        break
            out = writer.close()
            digest.update(out)
            stored += len(out)
            yield out

        await self._blobs.put(
            CONTAINER,
            part_blob(backup_id, name),
            frames(),
            content_type=_CONTENT_TYPE,
            overwrite=True,
        )
        logger.info("backup %s: wrote %s (%d documents)", backup_id, name, count)
        return PartInfo(
            name=name,
            collection=collection,
            range_index=range_index,
            count=count,
            bytes=stored,
            sha256=digest.hexdigest(),
            key_id=key_id,
        )

    @counts_failures("backup")
    async def write_manifest(
        self,
        work: BackupWork,
        parts: list[PartInfo],
        *,
        created_at: datetime,
        plan: BackupPlan | None = None,
    ) -> Manifest:
        """Seal the backup. Idempotent: an existing manifest wins and is returned. Without a
        plan the backup is full with no watermark: it restores, but no incremental builds on it
        (what it covers is unknown)."""
        if plan is not None and plan.backup_id != work.backup_id:
            raise ValueError(f"the plan is for {plan.backup_id}, not {work.backup_id}")
        expected = set(COLLECTIONS if plan is None else plan.collections)
        missing = expected - {p.collection for p in parts}
        if missing:
            raise ValueError(f"a backup needs every collection; missing {sorted(missing)}")
        manifest = Manifest(
            backup_id=work.backup_id,
            kind="full" if plan is None else plan.kind,
            base=None if plan is None else plan.base,
            watermark=None if plan is None else plan.watermark,
            period_start=work.period_start,
            period_end=work.period_end,
            created_at=created_at,
            parts=tuple(parts),
            collections=tuple(c for c in COLLECTIONS if c in expected),
        )
        try:
            await self._blobs.put(
                CONTAINER,
                manifest_blob(work.backup_id),
                manifest.model_dump_json(indent=1).encode(),
                content_type="application/json",
            )
        except BlobExistsError:
            return await self.manifest(work.backup_id)
        maintenance_finished("backup", "completed")
        return manifest

    # -- reading --------------------------------------------------------------------------
    async def list(self) -> list[Manifest]:
        """Complete backups, newest first. A manifest that does not parse is logged and left
        out (verify names it), so one damaged backup does not hide the others."""
        found: list[Manifest] = []
        async for info in self._blobs.list_blobs(CONTAINER):
            if not info.name.endswith("/" + MANIFEST_NAME):
                continue
            try:
                found.append(await self.manifest(info.name.split("/", 1)[0]))
            except (BackupInvalidError, ValueError) as exc:
                logger.warning("backup listing skips %s: %s", info.name, exc)
        return sorted(found, key=lambda m: (m.created_at, m.backup_id), reverse=True)

    async def manifest(self, backup_id: str) -> Manifest:
        found = await self._find_manifest(check_backup_id(backup_id))
        if found is None:
            raise BackupNotFoundError(f"no complete backup {backup_id!r} (no manifest)")
        return found

    async def _find_manifest(self, backup_id: str) -> Manifest | None:
        try:
            raw = await self._blobs.get(CONTAINER, manifest_blob(backup_id))
        except BlobNotFoundError:
            return None
        try:
            manifest = Manifest.model_validate_json(raw)
        except ValidationError as exc:
            raise BackupInvalidError(
                backup_id, [f"{MANIFEST_NAME} is not a valid manifest ({exc.error_count()} errors)"]
            ) from None
        if manifest.backup_id != backup_id:
            raise BackupInvalidError(
                backup_id, [f"{MANIFEST_NAME} names another backup, {manifest.backup_id!r}"]
            )
        return manifest

    async def _chain(self, manifest: Manifest) -> tuple[list[Manifest], list[str]]:
        """The chain that ends at `manifest`, full backup first, and what is wrong with its
        links (a missing or damaged base, a gap between watermarks, a loop)."""
        chain = [manifest]
        while (base_id := chain[0].base) is not None:
            child = chain[0]
            if len(chain) >= planning.MAX_CHAIN or base_id in {m.backup_id for m in chain}:
                return chain, [f"{child.backup_id}: the chain of bases loops or is too long"]
            try:
                base = await self._find_manifest(check_backup_id(base_id))
            except BackupInvalidError as exc:
                return chain, [f"base {base_id}: {problem}" for problem in exc.problems]
            except ValueError as exc:
                return chain, [f"{child.backup_id}: base {exc}"]
            if base is None:
                return chain, [f"base {base_id} of {child.backup_id} is missing (no manifest)"]
            assert child.watermark is not None and child.watermark.since is not None
            if base.watermark is None or base.watermark.until < child.watermark.since:
                return chain, [
                    f"base {base_id} of {child.backup_id} does not reach the start of "
                    f"{child.backup_id}'s watermark: documents between them are in neither"
                ]
            chain.insert(0, base)
        return chain, []

    async def verify(self, backup_id: str) -> VerifyReport:
        """Resolve the chain (an incremental's bases back to a full backup), then read every
        part of every link: its size and SHA-256, every frame's decryption, its count. Faults
        in a base name that base."""
        manifest = await self.manifest(backup_id)
        chain, problems = await self._chain(manifest)
        counts: dict[str, int] = {}
        for link in chain:
            prefix = "" if link is manifest else f"base {link.backup_id}: "
            for problem in await self._verify_parts(link, counts):
                problems.append(prefix + problem)
        ids = tuple(link.backup_id for link in chain)
        return VerifyReport(manifest.backup_id, counts, problems, ids)

    async def _verify_parts(self, manifest: Manifest, counts: dict[str, int]) -> list[str]:
        problems: list[str] = []
        for part in manifest.parts:
            if part.collection not in COLLECTIONS:
                problems.append(f"{part.name}: unknown collection {part.collection!r}")
                continue
            try:
                found = await self._check_part(manifest.backup_id, part)
            except (PartFormatError, BackupKeyError, BlobNotFoundError) as exc:
                problems.append(str(exc) if part.name in str(exc) else f"{part.name}: {exc}")
                continue
            if found != part.count:
                problems.append(f"{part.name}: {found} documents, the manifest says {part.count}")
            counts[part.collection] = counts.get(part.collection, 0) + found
        held = {p.collection for p in manifest.parts}
        for collection in sorted(set(manifest.collections) - held):
            problems.append(f"no part for collection {collection!r}")
        return problems

    async def _check_part(self, backup_id: str, part: PartInfo) -> int:
        digest = hashlib.sha256()
        size = 0

        async def hashed() -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in self._blobs.stream(CONTAINER, part_blob(backup_id, part.name)):
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        count = 0
        async for _ in read_documents(hashed(), self._keys.aead(part.key_id), backup_id, part.name):
            count += 1
        if size != part.bytes or digest.hexdigest() != part.sha256:
            raise PartFormatError(f"{part.name}: the stored bytes do not match the manifest")
        return count

    # -- restore --------------------------------------------------------------------------
    @counts_failures("restore", {BackupInvalidError: "invalid", BackupNotFoundError: "missing"})
    async def restore(
        self, backup_id: str, *, tenant: str | None = None, dry_run: bool = False
    ) -> RestoreReport:
        """Verify the whole chain, then upsert every document (or one tenant's) into the
        store, link by link from the full backup, so that later versions of a document win.
        Nothing is written from a chain any link of which fails verification. Restoring twice
        gives the same state. `counts` are documents applied, a rewritten one once per link."""
        if tenant is not None and not tenant:
            raise ValueError("tenant must not be empty")
        report = await self.verify(backup_id)
        if not report.ok:
            raise BackupInvalidError(report.backup_id, report.problems)
        chain = [await self.manifest(link) for link in report.chain]
        result = RestoreReport(
            report.backup_id, dry_run, tenant, dict.fromkeys(COLLECTIONS, 0), report.chain
        )
        run_ids: set[str] = set()  # the tenant's runs, which select its items, over the chain
        for manifest in chain:
            await self._apply(manifest, tenant, dry_run, run_ids, result)
        logger.info(
            "restored backup %s%s over %d backups: %s",
            report.backup_id,
            " (dry run)" if dry_run else "",
            len(chain),
            result.counts,
        )
        maintenance_finished("restore", "dry_run" if dry_run else "completed")
        return result

    async def _apply(
        self,
        manifest: Manifest,
        tenant: str | None,
        dry_run: bool,
        run_ids: set[str],
        result: RestoreReport,
    ) -> None:
        order = sorted(manifest.parts, key=lambda p: (COLLECTIONS.index(p.collection), p.name))
        for part in order:
            chunks = self._blobs.stream(CONTAINER, part_blob(manifest.backup_id, part.name))
            aead = self._keys.aead(part.key_id)
            docs = read_documents(chunks, aead, manifest.backup_id, part.name)
            batch: list[dict[str, Any]] = []
            async for doc in docs:
                if tenant is not None and not _belongs(part.collection, doc, tenant, run_ids):
                    continue
                batch.append(doc)
                if len(batch) >= RESTORE_BATCH:
                    result.counts[part.collection] += await self._write(part, batch, dry_run)
                    batch = []
            if batch:
                result.counts[part.collection] += await self._write(part, batch, dry_run)

    # -- retention ------------------------------------------------------------------------
    @counts_failures("prune")
    async def prune(self, *, now: datetime, dry_run: bool = False) -> PruneReport:
        """Delete the backups that retention lets go (see `retention`): for each, the manifest
        first (from then on it is incomplete and no longer listed), then its parts. Folders
        without a manifest whose newest blob is older than the retention (a failed backup, a
        prune cut short) are deleted too; younger ones may be a backup in progress."""
        manifests = await self.list()
        doomed = retention.expired(manifests, now=now, days=self._retention_days)
        gone = {m.backup_id for m in doomed}
        cutoff = now - timedelta(days=self._retention_days)
        newest: dict[str, datetime] = {}
        async for info in self._blobs.list_blobs(CONTAINER):
            folder, slash, _ = info.name.partition("/")
            if slash and _is_backup_id(folder):  # anything else is not a backup's to delete
                newest[folder] = max(newest.get(folder, info.last_modified), info.last_modified)
        complete = {m.backup_id for m in manifests}
        incomplete: list[str] = []
        for folder, at in sorted(newest.items()):
            # One with a manifest that does not parse is left for an operator to look at.
            if folder in complete or at >= cutoff or await self._has_manifest(folder):
                continue
            incomplete.append(folder)
        if not dry_run:
            for manifest in doomed:
                await self._blobs.delete(
                    CONTAINER, manifest_blob(manifest.backup_id), missing_ok=True
                )
                await self._delete_folder(manifest.backup_id)
            for folder in incomplete:
                await self._delete_folder(folder)
        kept = [m.backup_id for m in manifests if m.backup_id not in gone]
        report = PruneReport(dry_run, [m.backup_id for m in doomed], incomplete, kept)
        logger.info(
            "backup retention%s: deleted %s and incomplete %s, kept %d",
            " (dry run)" if dry_run else "",
            report.deleted,
            report.incomplete,
            len(kept),
        )
        if not dry_run:
            maintenance_finished("prune", "completed")
        return report

    async def _has_manifest(self, folder: str) -> bool:
        try:
            await self._blobs.head(CONTAINER, manifest_blob(folder))
        except BlobNotFoundError:
            return False
        return True

    async def _delete_folder(self, folder: str) -> None:
        names = [info.name async for info in self._blobs.list_blobs(CONTAINER, f"{folder}/")]
        for name in names:
            await self._blobs.delete(CONTAINER, name, missing_ok=True)

    async def _write(self, part: PartInfo, batch: list[dict[str, Any]], dry_run: bool) -> int:
        if dry_run:
            return len(batch)
        return await self._store.restore_documents(part.collection, batch)


def _belongs(collection: str, doc: dict[str, Any], tenant: str, run_ids: set[str]) -> bool:
    """Whether a document is the tenant's. Items carry their run's id, not the tenant, and
    runs are restored first; the response cache and the reports span tenants and are left out."""
    if collection == "runs":
        if doc.get("tenant_id") == tenant:
            run_ids.add(str(doc.get("run_id")))
            return True
        return False
    if collection == "items":
        return doc.get("run_id") in run_ids
    if collection == "usage":
        return doc.get("scope") == f"tenant:{tenant}"
    if collection in ("cache", "reports"):
        return False
    return doc.get("tenant_id") == tenant


def _is_backup_id(name: str) -> bool:
    try:
        check_backup_id(name)
    except ValueError:
        return False
    return True
