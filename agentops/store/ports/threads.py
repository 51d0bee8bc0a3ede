"""The port of conversation threads: one document per thread, partition `thread_id`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentops.store.records import Message, Thread, ThreadOwner


class ThreadStore(Protocol):
    async def get_thread(self, thread_id: str) -> Thread | None: ...

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
        """Append and keep the last `max_messages`. Concurrent appends both land.

        A new thread belongs to `owner` (tenant, user and agent); PermissionError if the thread
        has another owner. `encrypted` marks the thread as holding sealed texts (it stays marked).
        With `expected_version` (0 for a new thread), raises ConcurrencyError if the thread
        moved on since the caller read it.
        """
        ...

    async def replace_message_texts(
        self, thread_id: str, texts: Sequence[str], *, expected_version: int
    ) -> Thread:
        """Give the thread's messages new texts (re-encryption), in order, and mark it encrypted.

        ConcurrencyError if the thread is no longer at `expected_version`; KeyError if missing.
        """
        ...
