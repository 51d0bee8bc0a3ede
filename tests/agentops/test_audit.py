import asyncio
import json
import sqlite3
from pathlib import Path

from agentops.audit import AuditTrail
from agentops.auth import Principal
from agentops.store.sqlite import SqliteStore

ADA = Principal(id="ada", name="Ada", tenant="contoso", roles=frozenset())


async def test_the_chain_holds_until_an_entry_is_changed(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    async with SqliteStore(path) as store:
        trail = AuditTrail(store)
        entries = await asyncio.gather(
            *(
                trail.record(ADA, action="run.create", resource=f"runs/{n}", outcome="ok")
                for n in range(5)
            )
        )
        assert sorted(e.seq for e in entries) == list(range(5))
        assert await trail.verify("contoso") is None

    with sqlite3.connect(path) as connection:  # tamper with the third entry behind the store
        (doc,) = connection.execute("SELECT doc FROM audit WHERE seq = 2").fetchone()
        changed = {**json.loads(doc), "outcome": "denied"}
        connection.execute("UPDATE audit SET doc = ? WHERE seq = 2", (json.dumps(changed),))

    async with SqliteStore(path) as store:
        assert await AuditTrail(store).verify("contoso") == 2
