"""`python -m agentops backup ...`: the same service the activities use, in one process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    (app_settings / "blobs" / "backups" / backup_id / "threads-00000.jsonl.gz.aes").unlink()
    assert main(["backup", "verify", backup_id]) == 1
    assert "threads-00000" in capsys.readouterr().err
    target = app_settings / "target.db"
    monkeypatch.setenv("SQLITE_PATH", str(target))
    get_settings.cache_clear()
    assert main(["backup", "restore", backup_id]) == 1
    err = capsys.readouterr().err
    assert "threads-00000" in err and "nothing was restored" in err
    assert all(not docs for docs in _snapshot(target).values())
    assert main(["backup", "verify", "backup-nope"]) == 2
    assert "no complete backup" in capsys.readouterr().err
