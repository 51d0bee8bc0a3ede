"""What batch runs need from the rest of agentops, as Protocols the composition root fills."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

from agentops.model.stream_events import StreamItem
from agentops.model.types import ChatMessage, ModelAnswer, ModelRequest
from agentops.store.ports import RunStore

__all__ = ["AgentLookup", "BudgetGate", "ModelCaller", "ModelStreamer", "RunStore"]


class AgentLookup(Protocol):
    def get(self, name: str) -> Any:
        """The agent's definition; raises UnknownAgentError for a name not declared."""
        ...

    def request_for(
        self, agent_name: str, tenant: str, query: str, history: Sequence[ChatMessage] = ()
    ) -> ModelRequest: ...


class ModelCaller(Protocol):
    """The model path as one call: cache, budgets, rate limiter, breaker, agent, accounting.

    The answer comes priced (``cost``, and ``saved_cost`` on a cache hit): callers never price.
    """

    async def prefetch(self, requests: Sequence[ModelRequest]) -> None:
        """Look up these requests' cache entries at once, for the calls that follow."""
        ...

    async def call(
        self,
        request: ModelRequest,
        *,
        attempts_used: int = 0,
        item_key: str = "",
        defer_cache_write: bool = False,
    ) -> ModelAnswer:
        """With ``defer_cache_write``, the caller writes ``answer.cache_entry`` (the answer's
        cache entry) with the item's outcome."""
        ...


class ModelStreamer(ModelCaller, Protocol):
    """The model path, also as a stream: pieces as they are written, the priced answer last."""

    def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]: ...


class BudgetGate(Protocol):
    async def check(self, tenant: str, agent: str, estimated_tokens: int) -> None:
        """Raises BudgetExceededError when the tenant or agent has no budget left today."""
        ...
