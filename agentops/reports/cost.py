"""The cost report: tokens and their price by deployment, agent and tenant, compute, storage,
what the response cache saved, the period before, and what to change.

Token cost is recomputed from each item's own usage with the versioned price book, so a report
can be made again with the same prices. Items on a deployment the book does not price are
counted as unpriced: a line that holds any has no cost (`cost` is None), only the cost of its
priced part.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from agentops.reports.compute import (
    ComputeEstimate,
    StorageEstimate,
    estimate_compute,
    estimate_storage,
)
from agentops.reports.cost_models import CostReport, CostTotals, PriceBookRef, UsageLine
from agentops.reports.figures import Delta, PeriodOut
from agentops.reports.inputs import AgentProfile, ComputeActivity, ItemUsage, Period
from agentops.reports.price_book import PriceBook
from agentops.reports.recommendations import CostRules, PairLine, recommend

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Tally:
    items: int = 0
    failed_items: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    failed_tokens: int = 0
    priced_cost: float = 0.0
    unpriced_items: int = 0
    unpriced_tokens: int = 0
    recorded_cost: float = 0.0
    saved_cost: float = 0.0

    def add(self, row: ItemUsage, cost: float | None) -> None:
        self.items += 1
        self.failed_items += row.failed
        self.cache_hits += row.cache_hit
        self.prompt_tokens += row.prompt_tokens
        self.cached_tokens += row.cached_tokens
        self.completion_tokens += row.completion_tokens
        self.failed_tokens += row.total_tokens if row.failed else 0
        self.recorded_cost += row.recorded_cost
        self.saved_cost += row.saved_cost
        if cost is None:
            self.unpriced_items += 1
            self.unpriced_tokens += row.total_tokens
        else:
            self.priced_cost += cost

    def line(self, name: str) -> UsageLine:
        return UsageLine(
            name=name,
            items=self.items,
            failed_items=self.failed_items,
            cache_hits=self.cache_hits,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            completion_tokens=self.completion_tokens,
            total_tokens=self.prompt_tokens + self.completion_tokens,
            failed_tokens=self.failed_tokens,
            cost=None if self.unpriced_items else self.priced_cost,
            priced_cost=self.priced_cost,
            unpriced_items=self.unpriced_items,
            unpriced_tokens=self.unpriced_tokens,
            recorded_cost=self.recorded_cost,
            saved_cost=self.saved_cost,
        )


@dataclass(slots=True)
class _Usage:
    """One period's rows tallied every way the report shows them."""

    total: _Tally
    by_deployment: dict[str, _Tally]
    by_agent: dict[str, _Tally]
    by_tenant: dict[str, _Tally]
    # (agent, deployment) -> tokens, for re-pricing an agent on another model
    agent_deployments: dict[tuple[str, str], _Tally]


def _tally(rows: Iterable[ItemUsage], period: Period, prices: PriceBook) -> _Usage:
    usage = _Usage(_Tally(), {}, {}, {}, {})
    for row in rows:
        if not period.contains(row.at):
            continue
        price = prices.token_price(row.deployment, row.model)
        cost = (
            None
            if price is None
            else price.cost(row.prompt_tokens, row.cached_tokens, row.completion_tokens)
        )
        usage.total.add(row, cost)
        usage.by_deployment.setdefault(row.deployment, _Tally()).add(row, cost)
        usage.by_agent.setdefault(row.agent, _Tally()).add(row, cost)
        usage.by_tenant.setdefault(row.tenant_id, _Tally()).add(row, cost)
        usage.agent_deployments.setdefault((row.agent, row.deployment), _Tally()).add(row, cost)
    return usage


def _lines(tallies: Mapping[str, _Tally]) -> list[UsageLine]:
    lines = [tally.line(name) for name, tally in tallies.items()]
    # Most expensive first; unpriced lines lead, since their cost is the unknown one.
    return sorted(lines, key=lambda line: (line.cost is not None, -line.priced_cost, line.name))


def _totals(
    usage: _Usage, compute: ComputeEstimate | None, storage: StorageEstimate | None
) -> CostTotals:
    tokens = usage.total.line("all")
    extra = (compute.cost if compute else 0.0) + (storage.cost if storage else 0.0)
    return CostTotals(
        tokens=tokens,
        cache_hit_rate=tokens.cache_hit_rate,
        compute=compute,
        storage=storage,
        cost=None if tokens.cost is None else tokens.cost + extra,
        priced_cost=tokens.priced_cost + extra,
    )


def _deltas(current: CostTotals, previous: CostTotals) -> list[Delta]:
    def figures(totals: CostTotals) -> dict[str, float]:
        return {
            "items": totals.tokens.items,
            "total_tokens": totals.tokens.total_tokens,
            "token_cost_priced": totals.tokens.priced_cost,
            "compute_cost": totals.compute.cost if totals.compute else 0.0,
            "storage_cost": totals.storage.cost if totals.storage else 0.0,
            "total_cost_priced": totals.priced_cost,
            "cache_hit_rate": totals.cache_hit_rate,
            "saved_cost": totals.tokens.saved_cost,
        }

    now, before = figures(current), figures(previous)
    return [Delta.of(metric, now[metric], before[metric]) for metric in now]


def build_cost_report(
    items: Iterable[ItemUsage],
    *,
    period: Period,
    prices: PriceBook,
    generated_at: datetime,
    previous_items: Iterable[ItemUsage] = (),
    compute: ComputeActivity | None = None,
    previous_compute: ComputeActivity | None = None,
    agents: Mapping[str, AgentProfile] | None = None,
    rules: CostRules | None = None,
) -> CostReport:
    """The cost report for `period`; rows outside their period are ignored.

    `previous_items` and `previous_compute` describe the period of the same length just before;
    `agents` (by name) lets the cache rule skip agents that do not cache.
    """
    before = period.previous()
    usage = _tally(items, period, prices)
    previous_usage = _tally(previous_items, before, prices)
    totals = _totals(usage, *_estimates(compute, period, prices))
    previous_totals = _totals(previous_usage, *_estimates(previous_compute, before, prices))
    unpriced = sorted(name for name, tally in usage.by_deployment.items() if tally.unpriced_items)
    if unpriced:
        logger.warning("cost report: %d deployments have no price", len(unpriced))
    deployment_lines = _lines(usage.by_deployment)
    agent_lines = _lines(usage.by_agent)
    recommendations = recommend(
        rules or CostRules(),
        period=period,
        prices=prices,
        deployment_lines=deployment_lines,
        agent_lines=agent_lines,
        pairs=[
            PairLine(agent=agent, deployment=deployment, line=tally.line(agent))
            for (agent, deployment), tally in usage.agent_deployments.items()
        ],
        agents=agents,
        totals=totals,
        previous_totals=previous_totals,
        compute=compute,
    )
    return CostReport(
        period=PeriodOut.of(period),
        previous_period=PeriodOut.of(before),
        generated_at=generated_at,
        prices=PriceBookRef.of(prices),
        by_deployment=deployment_lines,
        by_agent=agent_lines,
        by_tenant=_lines(usage.by_tenant),
        unpriced_deployments=unpriced,
        totals=totals,
        previous_totals=previous_totals,
        deltas=_deltas(totals, previous_totals),
        recommendations=recommendations,
    )


def _estimates(
    activity: ComputeActivity | None, span: Period, prices: PriceBook
) -> tuple[ComputeEstimate | None, StorageEstimate | None]:
    if activity is None:
        return None, None
    return (
        estimate_compute(activity, span, prices.flex_consumption),
        estimate_storage(activity.stored_bytes, span, prices.blob_storage),
    )
