"""`python -m agentops backup ...`: the same service the activities use, in one process."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from agentops.backup import BackupKeys, BackupService
from agentops.backup.periods import manual_backup_work
from agentops.blobs.local import LocalBlobStore
from agentops.cli.main import main
from agentops.settings import get_settings
from agentops.store.sqlite import SqliteStore
from tests.agentops.backup.conftest import fill, key_secret, snapshot


@pytest.fixture
def app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AGENTOPS_STORE", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "source.db"))
    monkeypatch.setenv("BLOB_STORE", "local")
    monkeypatch.setenv("BLOB_ROOT", str(tmp_path / "blobs"))
    monkeypatch.setenv("BACKUP_ENCRYPTION_KEY", key_secret().get_secret_value())
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    get_settings.cache_clear()

    async def write() -> None:
        async with SqliteStore(tmp_path / "source.db") as store:
            await fill(store, items=2000)

    asyncio.run(write())
    yield tmp_path
    get_settings.cache_clear()


def _snapshot(path: Path) -> dict[str, list[dict]]:
    async def read() -> dict[str, list[dict]]:
        async with SqliteStore(path) as store:
            return await snapshot(store)

    return asyncio.run(read())


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_create_list_verify_restore(
    app_settings: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "create"]) == 0
    created = _json_lines(capsys.readouterr().out)[0]
    backup_id = created["backup_id"]
    assert created["counts"]["items"] == 2000
    assert main(["backup", "list"]) == 0
    assert [b["backup_id"] for b in _json_lines(capsys.readouterr().out)] == [backup_id]
    assert main(["backup", "verify", backup_id]) == 0
    assert _json_lines(capsys.readouterr().out)[0]["ok"] is True

    # Into an empty store: a dry run writes nothing, one tenant, then everything.
    target = app_settings / "target.db"
    monkeypatch.setenv("SQLITE_PATH", str(target))
    get_settings.cache_clear()
    assert main(["backup", "restore", backup_id, "--dry-run"]) == 0
    assert _json_lines(capsys.readouterr().out)[0]["counts"] == created["counts"]
    assert all(not docs for docs in _snapshot(target).values())
    assert main(["backup", "restore", backup_id, "--tenant", "globex"]) == 0
    assert _json_lines(capsys.readouterr().out)[0]["counts"]["items"] == 1000
    assert main(["backup", "restore", backup_id]) == 0
    capsys.readouterr()
    assert _snapshot(target) == _snapshot(app_settings / "source.db")


def test_a_damaged_backup_is_refused_naming_the_part(
    app_settings: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backup", "create"]) == 0
    backup_id = _json_lines(capsys.readouterr().out)[0]["backup_id"]
    (app_settings / "blobs" / "backups" / backup_id / "threads-r0000-00000.jsonl.gz.aes").unlink()
    assert main(["backup", "verify", backup_id]) == 1
    assert "threads-r0000-00000" in capsys.readouterr().err
    target = app_settings / "target.db"
    monkeypatch.setenv("SQLITE_PATH", str(target))
    get_settings.cache_clear()
    assert main(["backup", "restore", backup_id]) == 1
    err = capsys.readouterr().err
    assert "threads-r0000-00000" in err and "nothing was restored" in err
    assert all(not docs for docs in _snapshot(target).values())
    assert main(["backup", "verify", "backup-nope"]) == 2
    assert "no complete backup" in capsys.readouterr().err


def test_prune_and_incremental_create_follow_the_settings(
    app_settings: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three backups from long ago (full, incremental, full), then `prune` as the settings say:
    the newest full one stays, the rest goes; `create` then builds an incremental on it."""
    monkeypatch.setenv("BACKUP_FULL_EVERY", "2")
    monkeypatch.setenv("BACKUP_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    keys = BackupKeys.from_secret(SecretStr(os.environ["BACKUP_ENCRYPTION_KEY"]))

    async def old_backups() -> list[str]:
        async with SqliteStore(app_settings / "source.db") as store:
            backups = BackupService(
                store, LocalBlobStore(app_settings / "blobs"), keys, full_every=2
            )
            made = []
            for day in range(3):
                at = datetime(2025, 1, 1 + day, 3, tzinfo=UTC)
                made.append(await backups.create(manual_backup_work(at), now=at))
            return [m.backup_id for m in made]

    old = asyncio.run(old_backups())
    assert main(["backup", "prune", "--dry-run"]) == 0
    dry = _json_lines(capsys.readouterr().out)[0]
    assert (dry["dry_run"], dry["deleted"], dry["kept"]) == (True, [old[1], old[0]], [old[2]])
    assert main(["backup", "list"]) == 0
    assert len(_json_lines(capsys.readouterr().out)) == 3
    assert main(["backup", "prune"]) == 0
    assert _json_lines(capsys.readouterr().out)[0]["deleted"] == [old[1], old[0]]
    assert main(["backup", "list"]) == 0
    assert [b["backup_id"] for b in _json_lines(capsys.readouterr().out)] == [old[2]]
    assert sorted(p.name for p in (app_settings / "blobs" / "backups").iterdir()) == [old[2]]

    assert main(["backup", "create"]) == 0
    created = _json_lines(capsys.readouterr().out)[0]
    assert (created["kind"], created["base"]) == ("incremental", old[2])
    assert main(["backup", "verify", created["backup_id"]]) == 0
    assert _json_lines(capsys.readouterr().out)[0]["chain"] == [old[2], created["backup_id"]]
