"""What the operations route answers (`GET /api/ops/limits`), camelCase like the rest of the API.

Limiter figures are one worker process's: each instance and each of its worker processes paces
its own share of a deployment's quota (`RATE_LIMITS` divided by the host's worker processes), so
two calls may land on different processes and read different loads. Budget totals come from the
store and are the same wherever they are read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from agentops.model.budgets import ScopeSpend
from agentops.model.rate_limiter import BucketLoad, LimiterLoad
from triggers.responses import Response

BreakerStateName = Literal["closed", "open", "half_open"]


class BucketView(Response):
    available: float = Field(description="what a request could take now")
    capacity: float = Field(gt=0, description="what the bucket holds when full (one window)")

    @classmethod
    def of(cls, load: BucketLoad | None) -> BucketView | None:
        return None if load is None else cls(available=load.available, capacity=load.capacity)


class DeploymentLoad(Response):
    """A deployment's rate limiter and circuit breaker in the worker process that answered."""

    deployment: str
    rpm: int | None = Field(description="this process's share of requests per minute; null: none")
    tpm: int | None = Field(description="this process's share of tokens per minute; null: none")
    window_s: float | None = Field(description="seconds of quota a full bucket holds")
    requests: BucketView | None
    tokens: BucketView | None
    waiters: int = Field(ge=0, description="calls queued for capacity")
    breaker: BreakerStateName | None = Field(description="null until the deployment had a call")

    @classmethod
    def of(cls, name: str, load: LimiterLoad | None, breaker: str | None) -> DeploymentLoad:
        limits = load.limits if load is not None else None
        return cls(
            deployment=name,
            rpm=limits.rpm if limits else None,
            tpm=limits.tpm if limits else None,
            window_s=limits.window_s if limits else None,
            requests=BucketView.of(load.requests if load else None),
            tokens=BucketView.of(load.tokens if load else None),
            waiters=load.waiters if load else 0,
            breaker=breaker,  # type: ignore[arg-type]
        )


class BudgetUse(Response):
    """A tenant's or agent's daily budget and what it has used today (UTC), from the store."""

    scope: Literal["tenant", "agent"]
    name: str
    tokens_used: int = Field(ge=0)
    token_limit: int | None = Field(description="null: no token limit")
    cost_used: float = Field(ge=0)
    cost_limit: float | None = Field(description="null: no cost limit")

    @classmethod
    def of(cls, spend: ScopeSpend) -> BudgetUse:
        kind, _, name = spend.scope.partition(":")
        return cls(
            scope=kind,  # type: ignore[arg-type]
            name=name,
            tokens_used=spend.tokens,
            token_limit=spend.limit.tokens,
            cost_used=spend.cost,
            cost_limit=spend.limit.cost,
        )


class OpsLimits(Response):
    """Rate limiter load per deployment (this worker process only: each instance and worker
    process paces its own share of the quota) and budgets used today per tenant and agent."""

    limiter_scope: Literal["process"] = Field(
        default="process", description="limiter figures are the answering worker process's"
    )
    worker_processes: int = Field(ge=1, description="worker processes per instance")
    deployments: list[DeploymentLoad]
    day: date = Field(description="the UTC day the budget totals are for")
    resets_at: datetime = Field(description="when the budget totals start again (UTC midnight)")
    budgets: list[BudgetUse]


OPS_RESPONSE_MODELS: tuple[type[Response], ...] = (OpsLimits,)
