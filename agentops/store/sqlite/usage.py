"""Daily usage counters in SQLite: one row per (scope, day), added to by an upsert."""

from __future__ import annotations

from datetime import date

from agentops.store.checks import day_id
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import NOW_MS


class SqliteUsageStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def add_usage(self, scope: str, day: date, tokens: int, cost: float) -> tuple[int, float]:
        day_key = day_id(day)
        found = await self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO usage (scope, day, tokens, cost, modified_at) "
                f"VALUES (?, ?, ?, ?, {NOW_MS}) "
                "ON CONFLICT (scope, day) DO UPDATE SET "
                "tokens = tokens + excluded.tokens, cost = cost + excluded.cost, "
                "modified_at = excluded.modified_at "
                "RETURNING tokens, cost",
                (scope, day_key, tokens, float(cost)),
            ).fetchone()
        )
        return int(found[0]), float(found[1])

    async def get_usage(self, scope: str, day: date) -> tuple[int, float]:
        day_key = day_id(day)
        found = await self._db.call(
            lambda conn: conn.execute(
                "SELECT tokens, cost FROM usage WHERE scope = ? AND day = ?", (scope, day_key)
            ).fetchone()
        )
        return (0, 0.0) if found is None else (int(found[0]), float(found[1]))
