"""`python -m agentops audit verify` names the first changed or removed entry, and exits 1."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentops.audit import AuditEvent, AuditTrail
from agentops.cli.main import main
from agentops.settings import get_settings
from agentops.store.sqlite import SqliteStore


@pytest.fixture
def store_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "agentops.db"
    monkeypatch.setenv("AGENTOPS_STORE", "sqlite")
    monkeypatch.setenv("SQLITE_PATH", str(path))
    get_settings.cache_clear()

    async def write() -> None:
        async with SqliteStore(path) as store:
            trail = AuditTrail(store)
            for tenant, count in (("contoso", 4), ("fabrikam", 3)):
                events = [
                    AuditEvent(tenant, "ada", "run.read", f"runs/{n}", "allowed")
                    for n in range(count)
                ]
                await trail.append(tenant, events)

    asyncio.run(write())
    yield path
    get_settings.cache_clear()


def test_intact_chains_verify(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "contoso: 4 entries, OK",
        "fabrikam: 3 entries, OK",
    ]


def test_a_changed_entry_is_named(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(store_path) as connection:
        doc, entry_id = connection.execute(
            "SELECT doc, entry_id FROM audit WHERE tenant_id = 'contoso' AND seq = 1"
        ).fetchone()
        changed = json.dumps({**json.loads(doc), "outcome": "refused"})
        connection.execute(
            "UPDATE audit SET doc = ? WHERE tenant_id = 'contoso' AND seq = 1", (changed,)
        )
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"contoso: entry seq 1 (id {entry_id}) was changed" in out
    assert "fabrikam: 3 entries, OK" in out


def test_a_removed_entry_is_named(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(store_path) as connection:
        connection.execute("DELETE FROM audit WHERE tenant_id = 'fabrikam' AND seq = 1")
    assert main(["audit", "verify", "--tenant", "fabrikam"]) == 1
    assert capsys.readouterr().out.strip() == "fabrikam: entry seq 1 was removed"
