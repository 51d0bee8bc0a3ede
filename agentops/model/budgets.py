"""Daily token and cost limits per tenant and per agent, against unbounded consumption.

Usage is kept in the store per scope (``tenant:<name>``, ``agent:<name>``) and UTC day, so every
worker sees the same totals. ``check`` refuses a request before anything starts when a scope is at
its limit or would pass it with the request's estimate; ``record`` adds what a call really used.
A run that reaches a limit mid-way gets ``BudgetExceededError`` for its next items and stops
dispatching. Concurrent calls that passed ``check`` together can overshoot by what they use.

Totals read from the store are kept for ``refresh_s`` and advanced locally by this worker's own
records in between, so a check costs no I/O on the hot path; other workers' usage shows within
``refresh_s``.

Every refusal, of an item by the gateway or of a run before it starts (``BudgetGate``), is counted
here, where it is decided, in ``agentops.budget.refusals`` by tenant, agent and the kind of scope
that refused (``tenant`` or ``agent``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from agentops.instruments import BUDGET_REFUSALS
from agentops.metering import instrument
from agentops.model.types import BudgetExceededError, Usage
from agentops.store.ports import UsageStore

_refusals = instrument(BUDGET_REFUSALS)


@dataclass(frozen=True, slots=True)
class BudgetLimit:
    tokens: int | None = None
    cost: float | None = None

    def __post_init__(self) -> None:
        if self.tokens is not None and self.tokens < 1:
            raise ValueError("a token limit must be at least 1 or None")
        if self.cost is not None and self.cost <= 0:
            raise ValueError("a cost limit must be positive or None")


@dataclass(frozen=True, slots=True)
class ScopeSpend:
    """One budgeted scope's totals for the day, from the store, against its limit."""

    scope: str  # tenant:<name> or agent:<name>
    limit: BudgetLimit
    tokens: int
    cost: float


def next_utc_midnight(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), dtime(), tzinfo=UTC)


class Budgets:
    def __init__(
        self,
        store: UsageStore,
        *,
        tenants: Mapping[str, BudgetLimit] | None = None,
        agents: Mapping[str, BudgetLimit] | None = None,
        default_tenant: BudgetLimit | None = None,
        refresh_s: float = 2.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_s < 0:
            raise ValueError("refresh_s must not be negative")
        self._store = store
        self._tenants = dict(tenants or {})
        self._agents = dict(agents or {})
        self._default_tenant = default_tenant
        self._refresh_s = refresh_s
        self._now = now
        self._monotonic = monotonic
        # (scope, day) -> [tokens, cost, read at]
        self._seen: dict[tuple[str, date], list[float]] = {}

    def limits_for(self, tenant: str, agent: str) -> list[tuple[str, BudgetLimit]]:
        scopes = []
        tenant_limit = self._tenants.get(tenant, self._default_tenant)
        if tenant_limit is not None:
            scopes.append((f"tenant:{tenant}", tenant_limit))
        agent_limit = self._agents.get(agent)
        if agent_limit is not None:
            scopes.append((f"agent:{agent}", agent_limit))
        return scopes

    async def check(
        self,
        tenant: str,
        agent: str,
        estimated_tokens: int = 0,
        estimated_cost: float = 0.0,
        *,
        fresh: bool = False,
    ) -> None:
        """Raise ``BudgetExceededError`` if any scope is at its limit or would pass it.

        ``fresh`` reads the store instead of this process's recent view: for decisions taken
        once per run, where other workers' spending since the last read matters.
        """
        scopes = self.limits_for(tenant, agent)
        if not scopes:
            return
        now = self._now()
        day = _day(now)
        if fresh:
            for scope, _ in scopes:
                self._seen.pop((scope, day), None)
        for scope, limit in scopes:
            tokens, cost = await self._usage(scope, day)
            over_tokens = limit.tokens is not None and (
                tokens >= limit.tokens or tokens + estimated_tokens > limit.tokens
            )
            over_cost = limit.cost is not None and (
                cost >= limit.cost or cost + estimated_cost > limit.cost
            )
            if over_tokens or over_cost:
                what = "tokens" if over_tokens else "cost"
                kind = scope.partition(":")[0]
                _refusals.record(1, {"tenant": tenant, "agent": agent, "scope": kind})
                raise BudgetExceededError(
                    f"daily {what} budget of {scope} reached",
                    scope=scope,
                    resets_at=next_utc_midnight(now),
                )

    async def usage(self, tenant: str, agent: str) -> dict[str, tuple[int, float]]:
        """Today's totals per limited scope, fresh from the store."""
        day = _day(self._now())
        result = {}
        for scope, _ in self.limits_for(tenant, agent):
            self._seen.pop((scope, day), None)
            tokens, cost = await self._usage(scope, day)
            result[scope] = (int(tokens), cost)
        return result

    async def spent_today(self) -> tuple[date, list[ScopeSpend]]:
        """Today's (UTC) totals of every tenant and agent given a budget, fresh from the store.

        A default tenant budget applies to tenants nobody named, so it has no scope to list.
        """
        day = _day(self._now())
        scopes = [(f"tenant:{name}", limit) for name, limit in sorted(self._tenants.items())]
        scopes += [(f"agent:{name}", limit) for name, limit in sorted(self._agents.items())]
        spent = []
        for scope, limit in scopes:
            tokens, cost = await self._store.get_usage(scope, day)
            spent.append(ScopeSpend(scope, limit, int(tokens), float(cost)))
        return day, spent

    async def record(self, tenant: str, agent: str, usage: Usage, cost: float) -> None:
        """Add one call's usage to today's totals of its tenant and agent, where limited.

        Scopes without a limit are not counted here: each item keeps its own usage and cost,
        which is what reports add up, and two shared counters per call would be the hottest
        rows of the store.
        """
        day = _day(self._now())
        for scope, _ in self.limits_for(tenant, agent):
            tokens, total_cost = await self._store.add_usage(scope, day, usage.total_tokens, cost)
            seen = self._seen.get((scope, day))
            if seen is not None:  # the store's totals include other workers' usage: fresher
                seen[0], seen[1] = float(tokens), float(total_cost)

    async def _usage(self, scope: str, day: date) -> tuple[float, float]:
        key = (scope, day)
        seen = self._seen.get(key)
        mono = self._monotonic()
        if seen is None or mono - seen[2] >= self._refresh_s:
            if seen is None and len(self._seen) > 10_000:
                self._seen.clear()  # stale days and scopes: cheaper to drop than to track
            tokens, cost = await self._store.get_usage(scope, day)
            seen = [float(tokens), float(cost), mono]
            self._seen[key] = seen
        return seen[0], seen[1]


class BudgetGate:
    """The budget check a run passes before it is created: against the store's totals, since
    other workers' spending since this one last looked matters for a decision taken once."""

    def __init__(self, budgets: Budgets) -> None:
        self._budgets = budgets

    async def check(self, tenant: str, agent: str, estimated_tokens: int) -> None:
        await self._budgets.check(tenant, agent, estimated_tokens, fresh=True)


def _day(now: datetime) -> date:
    return now.astimezone(UTC).date()
