"""Threads in SQLite: one row per thread, keyed by thread_id, changed in a write transaction."""

from __future__ import annotations

from collections.abc import Sequence

from agentops.store import changes
from agentops.store.records import Message, Thread, ThreadOwner
from agentops.store.sqlite.connection import SqliteConnection
from agentops.store.sqlite.tables import loads


class SqliteThreadStore:
    def __init__(self, connection: SqliteConnection) -> None:
        self._db = connection

    async def get_thread(self, thread_id: str) -> Thread | None:
        found = await self._db.call(
            lambda conn: conn.execute(
                "SELECT doc FROM threads WHERE thread_id = ?", (thread_id,)
            ).fetchone()
        )
        return None if found is None else Thread.from_doc(loads(found[0]))

    async def append_messages(
        self,
        thread_id: str,
        owner: ThreadOwner,
        messages: Sequence[Message],
        max_messages: int,
        *,
        encrypted: bool = False,
        expected_version: int | None = None,
    ) -> Thread:
        change = changes.thread_append(
            thread_id,
            owner,
            tuple(messages),
            max_messages,
            self._db.now(),
            encrypted=encrypted,
            expected_version=expected_version,
        )
        return await self._db.modify("threads", "thread_id = ?", (thread_id,), change)

    async def replace_message_texts(
        self, thread_id: str, texts: Sequence[str], *, expected_version: int
    ) -> Thread:
        change = changes.thread_retext(thread_id, tuple(texts), expected_version, self._db.now())
        return await self._db.modify("threads", "thread_id = ?", (thread_id,), change)
