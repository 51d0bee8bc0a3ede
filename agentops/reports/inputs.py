"""The rows the report engines read, and the mapping from the store's records to them.

The engines take plain iterables of these rows, so whoever feeds them (a timer, an HTTP route, a
test) only has to page through the store and map each record once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agentops.store.records import AuditEntry, Item, ItemStatus, Run

# Audit outcomes that mean the request was let through; any other outcome is a refusal.
ALLOWED_OUTCOMES = frozenset({"accepted", "allowed", "ok", "success", "succeeded"})


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open time range [start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _aware(self.start, "start"))
        object.__setattr__(self, "end", _aware(self.end, "end"))
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def days(self) -> float:
        return self.seconds / 86_400

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def previous(self) -> Period:
        """The period of the same length that ends where this one starts."""
        return Period(self.start - (self.end - self.start), self.start)

    def shifted(self, by: timedelta) -> Period:
        return Period(self.start + by, self.end + by)


@dataclass(frozen=True, slots=True)
class ItemUsage:
    """One finished item's usage and price, as the gateway recorded it."""

    at: datetime
    tenant_id: str
    agent: str
    deployment: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # the part of prompt_tokens the endpoint served from its prompt cache
    model: str | None = None  # the model the endpoint reported, a fallback for pricing
    recorded_cost: float = 0.0  # what the gateway priced the item at when it ran
    cache_hit: bool = False  # answered from the response cache
    saved_cost: float = 0.0  # on a cache hit: what the call it replaced cost
    failed: bool = False
    latency_s: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _aware(self.at, "at"))
        if min(self.prompt_tokens, self.completion_tokens, self.cached_tokens) < 0:
            raise ValueError("token counts must not be negative")
        if self.cached_tokens > self.prompt_tokens:
            raise ValueError("cached tokens are part of the prompt and cannot exceed it")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """One audited request: who, when, what came of it; never the request's own text."""

    at: datetime
    tenant_id: str
    principal: str
    action: str
    refusal: str | None = None  # the kind of refusal, None when the request was let through
    status_code: int | None = None
    client_ip: str | None = None
    sensitive_agent: str | None = None  # set when the request touched a sensitive agent's data
    records_read: int = 0  # results handed back by a read
    resource_tenant: str | None = None  # the tenant that owns the resource asked for, if known

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _aware(self.at, "at"))
        if self.records_read < 0:
            raise ValueError("records_read must not be negative")

    @property
    def cross_tenant(self) -> bool:
        return self.resource_tenant is not None and self.resource_tenant != self.tenant_id


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The result of verifying one tenant's audit chain from its first entry."""

    tenant_id: str
    entries: int
    first_broken_seq: int | None = None  # the first entry whose hash or link does not hold

    @property
    def holds(self) -> bool:
        return self.first_broken_seq is None


@dataclass(frozen=True, slots=True)
class ComputeActivity:
    """What the function app did in a period, for the Flex Consumption estimate."""

    executions: int
    execution_seconds: float  # the sum of the executions' durations
    instance_memory_mb: int = 2048
    always_ready_instances: int = 0
    # Executions one instance runs at once: concurrent executions share the instance's billed time.
    per_instance_concurrency: int = 1
    stored_bytes: int = 0  # blobs (backups, reports) kept over the period

    def __post_init__(self) -> None:
        if self.executions < 0 or self.execution_seconds < 0 or self.stored_bytes < 0:
            raise ValueError("executions, execution_seconds and stored_bytes must be >= 0")
        if self.instance_memory_mb <= 0 or self.per_instance_concurrency <= 0:
            raise ValueError("instance_memory_mb and per_instance_concurrency must be > 0")
        if self.always_ready_instances < 0:
            raise ValueError("always_ready_instances must be >= 0")


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What the recommendations need to know of an agent's definition."""

    name: str
    deployment: str
    cache_ttl_s: int = 0
    sensitive: bool = False


def item_usage_from(item: Item, run: Run, deployment: str) -> ItemUsage | None:
    """The usage row of a finished item; None while it is still pending."""
    if item.status is ItemStatus.PENDING or item.completed_at is None:
        return None
    return ItemUsage(
        at=item.completed_at,
        tenant_id=run.tenant_id,
        agent=run.agent,
        deployment=deployment,
        prompt_tokens=item.usage.prompt_tokens,
        completion_tokens=item.usage.completion_tokens,
        model=item.model,
        recorded_cost=item.cost,
        cache_hit=item.cached,
        saved_cost=item.saved_cost,
        failed=item.status is ItemStatus.FAILED,
    )


def access_event_from(
    entry: AuditEntry, sensitive_agents: Collection[str] = frozenset()
) -> AccessEvent:
    """Map an audit entry; reads only the detail keys below, never the resource's text.

    Detail keys: `agent`, `status` (HTTP status code), `client_ip`, `kind` (the refusal's kind),
    `records` (results handed back) and `resource_tenant` (the owner of the resource asked for).
    """
    details: Mapping[str, Any] = entry.details
    agent = details.get("agent")
    refused = entry.outcome not in ALLOWED_OUTCOMES
    return AccessEvent(
        at=entry.at,
        tenant_id=entry.tenant_id,
        principal=entry.principal,
        action=entry.action,
        refusal=str(details.get("kind") or entry.outcome) if refused else None,
        status_code=_int_or_none(details.get("status")),
        client_ip=_str_or_none(details.get("client_ip")),
        # Only configured names pass: an agent name from a refused URL is the caller's text.
        sensitive_agent=agent if agent in sensitive_agents else None,
        records_read=_int_or_none(details.get("records")) or 0,
        resource_tenant=_str_or_none(details.get("resource_tenant")),
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
