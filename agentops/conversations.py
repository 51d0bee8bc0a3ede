"""One query answered synchronously, optionally continuing a persisted conversation.

A conversation belongs to the user and agent that started it: to anyone else, including the same
user with another agent, it reads as missing. Each user may start `threads_per_day` conversations
per UTC day, counted in the store's daily usage counters so every worker sees the same count.
A sensitive agent's messages are stored sealed.

``ask_stream`` is the same question answered as it is written: it yields the thread the
exchange goes to (``ThreadOpened``, once the caller may ask), then the pieces (text deltas, tool
calls), and once the answer is complete and stored, the same result ``ask`` returns. A stream
stopped early stores nothing; its tokens are billed by the gateway.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agentops.auth import Principal
from agentops.encryption.records import RecordSealer
from agentops.instruments import MEMORY_OPERATIONS
from agentops.log_context import log_context
from agentops.metering import instrument
from agentops.model.budgets import next_utc_midnight
from agentops.model.stream_events import StreamPiece
from agentops.model.types import ChatMessage, ModelAnswer, ModelRequest
from agentops.runs.ports import AgentLookup, ModelStreamer
from agentops.runs.requests import AskRequest
from agentops.store.ports import Store, UsageStore
from agentops.store.records import Message, Thread, ThreadOwner

HISTORY_ROLES = ("user", "assistant")


class UnknownThreadError(LookupError):
    """No conversation of that id exists for the caller (user and agent).

    `owner_tenant` names the tenant that owns the id when it is another tenant's: recorded in
    the audit trail, never told to the caller.
    """

    def __init__(self, message: str, *, owner_tenant: str | None = None) -> None:
        super().__init__(message)
        self.owner_tenant = owner_tenant


class ThreadLimitError(RuntimeError):
    """The caller started as many conversations today as a user may (the edge answers 429)."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


def thread_count_scope(principal: Principal) -> str:
    """The usage-counter scope of a user's new conversations.

    Hashed: user ids may hold characters a store key cannot, and the counter need not name them.
    """
    who = json.dumps([principal.tenant, principal.id]).encode()
    return "threads:" + hashlib.sha256(who).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ThreadOpened:
    """The conversation a streamed exchange goes to (a new one has its id already)."""

    thread_id: str


@dataclass(frozen=True, slots=True)
class _Turn:
    """One question on its way: who asks, in which thread, and the model request."""

    agent: str
    tenant: str
    owner: ThreadOwner
    sensitive: bool
    thread_id: str
    request: ModelRequest


class ConversationService:
    def __init__(
        self,
        store: Store,
        agents: AgentLookup,
        model: ModelStreamer,
        *,
        max_messages: int,
        sealer: RecordSealer,
        threads_per_day: int,
        counters: UsageStore | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if threads_per_day < 1:
            raise ValueError("threads_per_day must be at least 1")
        self._store = store
        self._agents = agents
        self._model = model
        self._max_messages = max_messages
        self._sealer = sealer
        self._threads_per_day = threads_per_day
        self._counters = counters if counters is not None else store
        self._now = now

    async def ask(self, principal: Principal, agent: str, ask: AskRequest) -> dict[str, Any]:
        turn = await self._open(principal, agent, ask)
        with log_context(agent=agent, tenant=principal.tenant):
            answer = await self._model.call(turn.request)
        return await self._close(turn, ask, answer)

    async def ask_stream(
        self, principal: Principal, agent: str, ask: AskRequest
    ) -> AsyncIterator[ThreadOpened | StreamPiece | dict[str, Any]]:
        """The thread, the pieces of the answer as they come, then what ``ask`` would return.

        Refusals of the caller (unknown thread, thread limit) raise before anything is
        yielded; those of the model path (budget, breaker) before the first piece.
        """
        turn = await self._open(principal, agent, ask)
        yield ThreadOpened(turn.thread_id)
        answer: ModelAnswer | None = None
        with log_context(agent=agent, tenant=principal.tenant):
            pieces = self._model.stream(turn.request)
            try:
                async for item in pieces:
                    if isinstance(item, ModelAnswer):
                        answer = item
                    else:
                        yield item
            finally:
                await pieces.aclose()  # type: ignore[attr-defined]
        if answer is None:
            raise RuntimeError("the model stream ended without an answer")
        yield await self._close(turn, ask, answer)

    async def _open(self, principal: Principal, agent: str, ask: AskRequest) -> _Turn:
        """Check the caller may ask, read the history, count a new thread; the model request."""
        owner = ThreadOwner(principal.tenant, principal.id, agent)
        sensitive = bool(self._agents.get(agent).sensitive)
        if sensitive:
            self._sealer.require(agent)  # refuse before anything is counted or spent
        history: tuple[ChatMessage, ...] = ()
        if ask.thread_id is not None:
            thread = await self._store.get_thread(ask.thread_id)
            instrument(MEMORY_OPERATIONS).record(1, {"agent": agent, "operation": "read"})
            # Another user's (or agent's, or tenant's) thread reads as missing, as runs do.
            if thread is None or thread.owner != owner:
                raise UnknownThreadError(
                    "no conversation with this thread_id",
                    owner_tenant=_other_tenant(thread, principal),
                )
            thread = self._sealer.open_thread(thread)
            history = tuple(
                ChatMessage(m.role, m.text) for m in thread.messages if m.role in HISTORY_ROLES
            )
        else:
            await self._count_new_thread(principal)
        thread_id = ask.thread_id or uuid.uuid4().hex
        request = self._agents.request_for(agent, principal.tenant, ask.query, history)
        return _Turn(agent, principal.tenant, owner, sensitive, thread_id, request)

    async def _close(self, turn: _Turn, ask: AskRequest, answer: ModelAnswer) -> dict[str, Any]:
        """Store both turns of the exchange; the result for the caller."""
        now = self._now()
        messages = [Message("user", ask.query, now), Message("assistant", answer.text, now)]
        if turn.sensitive:
            messages = self._sealer.seal_messages(turn.agent, turn.tenant, turn.thread_id, messages)
        thread = await self._store.append_messages(
            turn.thread_id,
            turn.owner,
            messages,
            self._max_messages,
            encrypted=turn.sensitive,
            expected_version=0 if ask.thread_id is None else None,
        )
        instrument(MEMORY_OPERATIONS).record(1, {"agent": turn.agent, "operation": "write"})
        return {
            "agent": turn.agent,
            "thread_id": turn.thread_id,
            "answer": answer.text,
            "model": answer.model,
            "cached": answer.cached,
            "usage": {
                "prompt_tokens": answer.usage.prompt_tokens,
                "completion_tokens": answer.usage.completion_tokens,
                "total_tokens": answer.usage.total_tokens,
            },
            "cost": answer.cost,
            "messages": len(thread.messages),
        }

    async def _count_new_thread(self, principal: Principal) -> None:
        """Count the conversation about to start; refuse it past the day's limit.

        Counted before the model is called, atomically in the store, so concurrent requests
        cannot pass the limit together; a refused or failed start still counts.
        """
        now = self._now()
        started, _ = await self._counters.add_usage(
            thread_count_scope(principal), now.astimezone(UTC).date(), 1, 0.0
        )
        if started > self._threads_per_day:
            wait = math.ceil((next_utc_midnight(now) - now).total_seconds())
            raise ThreadLimitError(
                f"at most {self._threads_per_day} new conversations per user per day",
                retry_after_s=float(max(1, wait)),
            )


def _other_tenant(thread: Thread | None, principal: Principal) -> str | None:
    if thread is None or thread.owner.tenant_id == principal.tenant:
        return None
    return thread.owner.tenant_id
