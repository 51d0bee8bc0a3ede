"""Values that travel along the model path: what an item asks of a model and what comes back.

Shared by the agent runner (which calls the model) and the gateway around it (cache, rate
limiter, circuit breaker, budgets), so both sides agree on one vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Token counts are stored with items and runs; the model path speaks the same type.
from agentops.store.records import CacheEntry, Usage


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "user" | "assistant"
    text: str


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One query for one agent, with everything the layers around the call need to decide."""

    tenant: str
    agent: str
    agent_version: str  # digest of the agent definition: a changed agent never hits old cache
    deployment: str
    tools: tuple[str, ...]
    query: str
    max_output_tokens: int
    cache_ttl_s: int  # 0 disables caching for this agent
    sensitive: bool
    history: tuple[ChatMessage, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    text: str
    usage: Usage
    model: str
    cached: bool = False
    model_calls: int = 1  # calls made to the endpoint for this answer (0 on a cache hit)
    # On a cache hit: what the original call used, now not spent.
    saved_usage: Usage = field(default_factory=Usage)
    # Priced by the gateway, the one place that prices: what ``usage`` cost (0 on a cache hit),
    # and on a cache hit what ``saved_usage`` would have cost.
    cost: float = 0.0
    saved_cost: float = 0.0
    # When the caller asked to write the cache entry itself (with the item's outcome): the entry.
    cache_entry: CacheEntry | None = None


class ModelError(Exception):
    """A model call that did not produce an answer.

    ``usage`` is what the calls made before the failure spent (a tool loop that failed in its
    third round spent two rounds), and ``cost`` its price once the gateway has priced it: spent
    tokens are billed whether or not an answer came of them.
    """

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.usage = Usage()
        self.cost = 0.0


class PermanentModelError(ModelError):
    """Retrying cannot help: bad request, auth, not found, content filter, invalid tool call."""


class TransientModelError(ModelError):
    """Worth retrying later: throttling, 5xx, timeouts, dropped connections."""

    def __init__(
        self, reason: str, *, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(reason, status=status)
        self.retry_after_s = retry_after_s


class CircuitOpenError(TransientModelError):
    """The deployment's breaker is open: fail fast and come back after the cool-down."""


class BudgetExceededError(ModelError):
    """A tenant or agent reached its daily token or cost limit."""

    def __init__(self, reason: str, *, scope: str, resets_at: datetime) -> None:
        super().__init__(reason, status=429)
        self.scope = scope
        self.resets_at = resets_at
