"""Sealing the caller's texts of sensitive agents' records: the one place services do it.

Queries and answers of a sensitive agent's items, and the message texts of its threads, are
stored sealed; everything else (status, counts, usage, cost, errors) stays plain, so runs are
listed, counted and reported on without a key. Each value is bound to its tenant, its record and
its field (see `contexts`), so it opens only where it was written.

A record marked encrypted may still hold plain texts written before its agent became sensitive;
they read as they are, and the re-encryption job seals them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from agentops.encryption.keyring import KEY_SETTING, EncryptionUnavailableError, KeyRing, is_sealed
from agentops.store.records import Item, ItemOutcome, Message, Thread, dt_to_doc


def item_context(tenant: str, run_id: str, index: int, field: str) -> tuple[str, ...]:
    return ("items", tenant, run_id, str(index), field)


def message_context(tenant: str, thread_id: str, message: Message) -> tuple[str, ...]:
    # A message's position shifts as old ones are dropped; its role and time do not.
    at = dt_to_doc(message.at)
    assert at is not None
    return ("threads", tenant, thread_id, message.role, at, "text")


class RecordSealer:
    """Seals texts with the ring's active key and opens them with whichever key sealed them."""

    def __init__(self, ring: KeyRing | None) -> None:
        self._ring = ring

    @property
    def ring(self) -> KeyRing | None:
        return self._ring

    def require(self, agent: str) -> KeyRing:
        """The ring, or EncryptionUnavailableError: a sensitive agent's texts are never plain."""
        if self._ring is None:
            raise EncryptionUnavailableError(
                f"agent {agent!r} is sensitive and no data encryption keys are configured "
                f"({KEY_SETTING}): its queries and answers cannot be stored"
            )
        return self._ring

    # -- items ---------------------------------------------------------------------------------
    def seal_queries(
        self, agent: str, tenant: str, run_id: str, queries: Sequence[str]
    ) -> list[str]:
        ring = self.require(agent)
        return [
            ring.seal(query, item_context(tenant, run_id, index, "query"))
            for index, query in enumerate(queries)
        ]

    def seal_outcome(
        self, agent: str, tenant: str, run_id: str, index: int, outcome: ItemOutcome
    ) -> ItemOutcome:
        if outcome.answer is None:
            return outcome
        ring = self.require(agent)
        return replace(
            outcome, answer=ring.seal(outcome.answer, item_context(tenant, run_id, index, "answer"))
        )

    def open_item(self, tenant: str, item: Item) -> Item:
        return replace(
            item,
            query=self._open(item.query, item_context(tenant, item.run_id, item.index, "query")),
            answer=None
            if item.answer is None
            else self._open(item.answer, item_context(tenant, item.run_id, item.index, "answer")),
        )

    # -- threads -------------------------------------------------------------------------------
    def seal_messages(
        self, agent: str, tenant: str, thread_id: str, messages: Sequence[Message]
    ) -> list[Message]:
        ring = self.require(agent)
        return [
            replace(m, text=ring.seal(m.text, message_context(tenant, thread_id, m)))
            for m in messages
        ]

    def open_thread(self, thread: Thread) -> Thread:
        if not thread.encrypted:
            return thread
        return replace(
            thread,
            messages=tuple(
                replace(
                    m,
                    text=self._open(m.text, message_context(thread.tenant_id, thread.thread_id, m)),
                )
                for m in thread.messages
            ),
        )

    # -- re-encryption -------------------------------------------------------------------------
    def reseal(self, value: str, context: tuple[str, ...]) -> str | None:
        """`value` sealed with the active key, or None if it already is."""
        ring = self._ring
        if ring is None:
            raise EncryptionUnavailableError(f"re-encryption needs {KEY_SETTING}")
        if ring.is_current(value):
            return None
        return ring.seal(self._open(value, context), context)

    def _open(self, value: str, context: tuple[str, ...]) -> str:
        if not is_sealed(value):
            return value  # written before the agent was sensitive
        if self._ring is None:
            raise EncryptionUnavailableError(
                f"{'/'.join(context)} is sealed and no data encryption keys are configured "
                f"({KEY_SETTING})"
            )
        return self._ring.open(value, context)
