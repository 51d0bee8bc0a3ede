"""Backups of the store to the blob store, their verification and their restore.

One `BackupService` serves the durable activities (one collection per activity, then the
manifest) and the CLI (the same steps in one process). Everything streams: documents go from the
store through gzip and AES-GCM frames into blobs, and back, with memory bounded by a frame and a
restore batch, whatever the size of the store.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agentops.backup.contracts import BackupWork, check_backup_id
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
from agentops.store.containers import COLLECTIONS, check_collection
from agentops.store.ports import CollectionStore

logger = logging.getLogger(__name__)

DEFAULT_PART_BYTES = 64 * 1024 * 1024  # compressed bytes after which a part is closed
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
    counts: dict[str, int]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class RestoreReport:
    backup_id: str
    dry_run: bool
    tenant: str | None
    counts: dict[str, int] = field(default_factory=dict)  # documents written (or to write)


class BackupService:
    def __init__(
        self,
        store: CollectionStore,
        blobs: BlobStore,
        keys: BackupKeys,
        *,
        part_bytes: int = DEFAULT_PART_BYTES,
    ) -> None:
        if part_bytes < 1:
            raise ValueError("part_bytes is at least 1")
        self._store = store
        self._blobs = blobs
        self._keys = keys
        self._part_bytes = part_bytes

    # -- backup ---------------------------------------------------------------------------
    async def create(self, work: BackupWork, *, now: datetime) -> Manifest:
        """A whole backup in this process: every collection, then the manifest."""
        parts: list[PartInfo] = []
        for collection in COLLECTIONS:
            parts += await self.backup_collection(work.backup_id, collection)
        return await self.write_manifest(work, parts, created_at=now)

    async def backup_collection(self, backup_id: str, collection: str) -> list[PartInfo]:
        """Write one collection's parts. Parts are overwritten until the manifest exists (a
        retried activity rewrites them); after that the backup is sealed and left alone."""
        check_backup_id(backup_id)
        check_collection(collection)
        existing = await self._find_manifest(backup_id)
        if existing is not None:
            return [p for p in existing.parts if p.collection == collection]
        docs = aiter(self._store.iter_collection(collection))
        head: list[dict[str, Any]] = []
        first = await anext(docs, None)
        if first is not None:
            head.append(first)
        parts: list[PartInfo] = []
        while True:
            part = await self._write_part(backup_id, collection, len(parts), head, docs)
            parts.append(part)
            if not head:  # the source is exhausted
                return parts

    async def _write_part(
        self,
        backup_id: str,
        collection: str,
        seq: int,
        head: list[dict[str, Any]],
        docs: AsyncIterator[dict[str, Any]],
    ) -> PartInfo:
        """One part from `head` (the next document, if any) and `docs`; leaves in `head` the
        first document of the next part, or nothing when the source is exhausted."""
        name = f"{collection}-{seq:05d}.jsonl.gz.aes"
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
            count=count,
            bytes=stored,
            sha256=digest.hexdigest(),
            key_id=key_id,
        )

    async def write_manifest(
        self, work: BackupWork, parts: list[PartInfo], *, created_at: datetime
    ) -> Manifest:
        """Seal the backup. Idempotent: an existing manifest wins and is returned."""
        missing = set(COLLECTIONS) - {p.collection for p in parts}
        if missing:
            raise ValueError(f"a backup needs every collection; missing {sorted(missing)}")
        manifest = Manifest(
            backup_id=work.backup_id,
            period_start=work.period_start,
            period_end=work.period_end,
            created_at=created_at,
            parts=tuple(parts),
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
        return manifest

    # -- reading --------------------------------------------------------------------------
    async def list(self) -> list[Manifest]:
        """Complete backups, newest first."""
        found = [
            await self.manifest(info.name.split("/", 1)[0])
            async for info in self._blobs.list_blobs(CONTAINER)
            if info.name.endswith("/" + MANIFEST_NAME)
        ]
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
        return Manifest.model_validate_json(raw)

    async def verify(self, backup_id: str) -> VerifyReport:
        """Read every part: its size and SHA-256, every frame's decryption, its count."""
        manifest = await self.manifest(backup_id)
        problems: list[str] = []
        counts: dict[str, int] = {}
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
        for collection in sorted(set(COLLECTIONS) - {p.collection for p in manifest.parts}):
            problems.append(f"no part for collection {collection!r}")
        return VerifyReport(manifest.backup_id, counts, problems)

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
    async def restore(
        self, backup_id: str, *, tenant: str | None = None, dry_run: bool = False
    ) -> RestoreReport:
        """Verify, then upsert every document (or one tenant's) into the store. Nothing is
        written from a backup that fails verification. Restoring twice gives the same state."""
        if tenant is not None and not tenant:
            raise ValueError("tenant must not be empty")
        report = await self.verify(backup_id)
        if not report.ok:
            raise BackupInvalidError(report.backup_id, report.problems)
        manifest = await self.manifest(backup_id)
        result = RestoreReport(manifest.backup_id, dry_run, tenant, dict.fromkeys(COLLECTIONS, 0))
        run_ids: set[str] = set()  # the tenant's runs, which select its items
        order = sorted(manifest.parts, key=lambda p: (COLLECTIONS.index(p.collection), p.name))
        for part in order:
            chunks = self._blobs.stream(CONTAINER, part_blob(manifest.backup_id, part.name))
            docs = read_documents(chunks, self._keys.aead(part.key_id), backup_id, part.name)
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
        logger.info(
            "restored backup %s%s: %s",
            manifest.backup_id,
            " (dry run)" if dry_run else "",
            result.counts,
        )
        return result

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
