"""A SQLite store filled across every collection, a folder blob store and backup keys."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from agentops.backup import BackupKeys, BackupService, BackupWork
from agentops.blobs.local import LocalBlobStore
from agentops.store import COLLECTIONS
from agentops.store.sqlite import SqliteStore
from tests.agentops.store.samples import ALICE, answer, audit, make_run, msgs, report

NOW = datetime(2026, 12, 2, 16, 5, tzinfo=UTC)
WORK = BackupWork(
    backup_id="backup-2026120216",
    period_start=datetime(2026, 12, 2, 16, tzinfo=UTC),
    period_end=datetime(2026, 12, 2, 17, tzinfo=UTC),
)


def key_secret(key_id: str = "k1", key: bytes | None = None) -> SecretStr:
    encoded = base64.b64encode(key or os.urandom(32)).decode()
    return SecretStr(json.dumps({"active": key_id, "keys": {key_id: encoded}}))


async def fill(store: SqliteStore, *, items: int) -> None:
    """`items` items over runs of two tenants, and some of every other collection."""
    per_run = 1000
    for n in range(max(1, items // per_run)):
        tenant = "acme" if n % 2 == 0 else "globex"
        run_id = f"run-{n}"
        await store.create_run(make_run(run_id, tenant, total=per_run))
        await store.add_items(run_id, [f"query {n}-{i} " + "x" * 200 for i in range(per_run)])
        for index in range(0, per_run, 7):
            await store.complete_item(run_id, index, answer(f"answer {index}"))
    for tenant in ("acme", "globex"):
        owner = ALICE if tenant == "acme" else type(ALICE)(tenant, "bob@globex", "calc")
        for t in range(5):
            await store.append_messages(
                f"t-{tenant}-{t}", owner, msgs("hi", "hello"), max_messages=10
            )
        for seq in range(20):
            await store.append_audit(audit(seq, tenant))
        await store.add_usage(f"tenant:{tenant}", date(2026, 12, 1), 15, 0.01)
    await store.add_usage("agent:calc", date(2026, 12, 1), 30, 0.02)
    await store.put_report(report(0))
    for k in range(10):
        await store.cache_put(f"k{k}", {"v": k}, ttl_s=3600)


async def snapshot(store: SqliteStore) -> dict[str, list[dict]]:
    result = {}
    for name in COLLECTIONS:
        docs = [doc async for doc in store.iter_collection(name)]
        result[name] = sorted(docs, key=lambda d: json.dumps(d, sort_keys=True))
    return result


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[SqliteStore, SqliteStore]]:
    async with (
        SqliteStore(tmp_path / "source.db") as source,
        SqliteStore(tmp_path / "target.db") as target,
    ):
        yield source, target


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def keys() -> BackupKeys:
    return BackupKeys.from_secret(key_secret())


def service(store, blobs, keys, **kw) -> BackupService:
    return BackupService(store, blobs, keys, **kw)


# The store contract's fixtures, so that chain tests run on SQLite and on the Cosmos DB adapter.
from tests.agentops.store.conftest import (  # noqa: E402, F401
    _no_proxy_for_loopback,
    backend,
    clock,
    cosmos_server,
    store_factory,
)
