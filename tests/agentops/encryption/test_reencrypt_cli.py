"""`python -m agentops reencrypt`: the job on the store named by the app settings."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentops.cli.main import main
from agentops.encryption import KeyRing, RecordSealer
from agentops.encryption.keyring import key_id_of
from agentops.settings import get_settings
from agentops.store.records import Run
from agentops.store.sqlite import SqliteStore

K1, K2 = os.urandom(32), os.urandom(32)
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def keys(active: str, **ring: bytes) -> str:
    encoded = {kid: base64.b64encode(key).decode() for kid, key in ring.items()}
    return json.dumps({"active": active, "keys": encoded})


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "agentops.db"
    monkeypatch.setenv("AGENTOPS_STORE", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(path))
    monkeypatch.delenv("DATA_ENCRYPTION_KEYS", raising=False)
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


async def _store_sealed_run(path: Path) -> None:
    sealer = RecordSealer(KeyRing("k1", {"k1": K1}))
    async with SqliteStore(path) as store:
        run = Run("run-1", "acme", "alice", "triage", 2, T0, encrypted=True)
        await store.create_run(run)
        await store.add_items("run-1", sealer.seal_queries("triage", "acme", "run-1", ["a", "b"]))


async def _key_ids(path: Path) -> set[str]:
    async with SqliteStore(path) as store:
        return {key_id_of(item.query) for item in await store.get_items("run-1", [0, 1])}


def test_reencrypt_moves_values_and_prints_its_counts(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_store_sealed_run(db))
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", keys("k2", k1=K1, k2=K2))
    assert main(["reencrypt"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["items"], report["rewritten"], report["failed"]) == (2, 2, 0)
    assert asyncio.run(_key_ids(db)) == {"k2"}
    assert main(["reencrypt"]) == 0
    assert json.loads(capsys.readouterr().out)["rewritten"] == 0


def test_reencrypt_fails_when_a_key_is_gone(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_store_sealed_run(db))
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", keys("k2", k2=K2))  # k1 dropped too early
    assert main(["reencrypt"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["failed"] == 2
    assert "2 texts were not re-encrypted" in captured.err
    assert asyncio.run(_key_ids(db)) == {"k1"}  # left as it was, still readable with k1


def test_reencrypt_without_keys_says_so(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reencrypt"]) == 2
    assert "DATA_ENCRYPTION_KEYS is not set" in capsys.readouterr().err
