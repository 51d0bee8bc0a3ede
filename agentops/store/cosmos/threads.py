"""Threads in Cosmos DB: partition `/thread_id`, id = thread_id. One document per conversation,
read and replaced whole with if-match; bounded to the last N messages so it stays far below
2 MB."""

from __future__ import annotations

from collections.abc import Sequence

from agentops.store import changes
from agentops.store.cosmos.connection import CosmosConnection, remote
from agentops.store.records import Message, Thread, ThreadOwner


class CosmosThreadStore:
    def __init__(self, connection: CosmosConnection) -> None:
        self._db = connection

    @remote
    async def get_thread(self, thread_id: str) -> Thread | None:
        doc = await self._db.read("threads", thread_id, thread_id)
        return None if doc is None else Thread.from_doc(doc)

    @remote
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
        return await self._db.modify("threads", thread_id, thread_id, change)

    @remote
    async def replace_message_texts(
        self, thread_id: str, texts: Sequence[str], *, expected_version: int
    ) -> Thread:
        change = changes.thread_retext(thread_id, tuple(texts), expected_version, self._db.now())
        return await self._db.modify("threads", thread_id, thread_id, change)
