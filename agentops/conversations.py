"""One query answered synchronously, optionally continuing a persisted conversation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from agentops.auth import Principal
from agentops.model.types import ChatMessage
from agentops.runs.ports import AgentLookup, ModelCaller, RunStore
from agentops.runs.requests import AskRequest
from agentops.store.records import Message

HISTORY_ROLES = ("user", "assistant")


class UnknownThreadError(LookupError):
    """No conversation of that id exists for the caller's tenant."""


class ConversationService:
    def __init__(
        self, store: RunStore, agents: AgentLookup, model: ModelCaller, *, max_messages: int
    ) -> None:
        self._store = store
        self._agents = agents
        self._model = model
        self._max_messages = max_messages

    async def ask(self, principal: Principal, agent: str, ask: AskRequest) -> dict[str, Any]:
        history: tuple[ChatMessage, ...] = ()
        if ask.thread_id is not None:
            thread = await self._store.get_thread(ask.thread_id)
            # Another tenant's thread reads as missing, as runs do.
            if thread is None or thread.tenant_id != principal.tenant:
                raise UnknownThreadError(f"no conversation with thread_id {ask.thread_id!r}")
            history = tuple(
                ChatMessage(m.role, m.text) for m in thread.messages if m.role in HISTORY_ROLES
            )
        thread_id = ask.thread_id or uuid.uuid4().hex
        request = self._agents.request_for(agent, principal.tenant, ask.query, history)
        answer = await self._model.call(request)
        now = datetime.now(UTC)
        thread = await self._store.append_messages(
            thread_id,
            principal.tenant,
            [Message("user", ask.query, now), Message("assistant", answer.text, now)],
            self._max_messages,
        )
        return {
            "agent": agent,
            "thread_id": thread_id,
            "answer": answer.text,
            "model": answer.model,
            "cached": answer.cached,
            "usage": {
                "prompt_tokens": answer.usage.prompt_tokens,
                "completion_tokens": answer.usage.completion_tokens,
                "total_tokens": answer.usage.total_tokens,
            },
            "cost": self._model.cost(request, answer),
            "messages": len(thread.messages),
        }
