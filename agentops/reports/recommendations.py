"""What the cost report recommends, each with the rule, threshold and figure that raised it.

Three rules come from the production guide (always-ready utilisation, token efficiency, cache hit
rate); three more follow from figures the report already has (unpriced deployments, tokens spent
on failed items, cost growth against the period before).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict, Field

from agentops.agents.definitions import MAX_CACHE_TTL_S
from agentops.reports.compute import estimate_compute
from agentops.reports.cost_models import CostTotals, Recommendation, UsageLine
from agentops.reports.figures import RuleCheck
from agentops.reports.inputs import AgentProfile, ComputeActivity, Period
from agentops.reports.price_book import PriceBook


class CostRules(BaseModel):
    """Thresholds of the recommendations; each one is quoted in the recommendation it raises."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_always_ready_utilisation: float = Field(default=0.2, gt=0, le=1)
    min_token_efficiency: float = Field(default=0.25, gt=0, le=1)
    # An agent whose answers average this many output tokens or fewer does simple work.
    max_simple_output_tokens: float = Field(default=300, gt=0)
    min_cache_hit_rate: float = Field(default=0.7, gt=0, le=1)
    max_failed_token_share: float = Field(default=0.1, gt=0, le=1)
    max_cost_growth: float = Field(default=0.5, gt=0)
    # Per-agent rules need this many items in the period before a share means anything.
    min_items: int = Field(default=20, ge=1)


@dataclass(frozen=True, slots=True)
class PairLine:
    """One agent's usage on one deployment."""

    agent: str
    deployment: str
    line: UsageLine


def recommend(
    rules: CostRules,
    *,
    period: Period,
    prices: PriceBook,
    deployment_lines: Sequence[UsageLine],
    agent_lines: Sequence[UsageLine],
    pairs: Sequence[PairLine],
    agents: Mapping[str, AgentProfile] | None,
    totals: CostTotals,
    previous_totals: CostTotals,
    compute: ComputeActivity | None,
) -> list[Recommendation]:
    found: list[Recommendation] = []
    if compute is not None:
        found.extend(_always_ready(rules, compute, period, prices))
    found.extend(_smaller_model(rules, pairs, prices))
    found.extend(_cache_ttl(rules, agent_lines, agents))
    found.extend(_unpriced(deployment_lines))
    found.extend(_failed_spend(rules, agent_lines))
    found.extend(_cost_growth(rules, totals, previous_totals))
    return found


def _always_ready(
    rules: CostRules, compute: ComputeActivity, period: Period, prices: PriceBook
) -> list[Recommendation]:
    estimate = estimate_compute(compute, period, prices.flex_consumption)
    utilisation = estimate.always_ready_utilisation
    threshold = rules.min_always_ready_utilisation
    if utilisation is None or utilisation >= threshold:
        return []
    instances = compute.always_ready_instances
    # The most instances that would each be busy at least `threshold` of the time.
    suggested = math.floor(utilisation * instances / threshold)
    fewer = estimate_compute(
        replace(compute, always_ready_instances=suggested), period, prices.flex_consumption
    )
    return [
        Recommendation(
            rule=RuleCheck(
                name="low_always_ready_utilisation",
                description="always-ready instances are busy less than this share of the period",
                comparison="<",
                threshold=threshold,
                observed=utilisation,
            ),
            subject="always-ready instances",
            action=f"lower the always-ready instance count from {instances} to {suggested}",
            estimated_saving=estimate.cost - fewer.cost,
            figures={
                "always_ready_instances": instances,
                "suggested_instances": suggested,
                "compute_cost": estimate.cost,
                "compute_cost_suggested": fewer.cost,
            },
        )
    ]


def _smaller_model(
    rules: CostRules, pairs: Sequence[PairLine], prices: PriceBook
) -> list[Recommendation]:
    found = []
    for pair in pairs:
        line = pair.line
        price = prices.token_price(pair.deployment)
        if price is None or price.smaller is None or line.items < rules.min_items:
            continue
        mean_output = line.completion_tokens / line.items
        if mean_output > rules.max_simple_output_tokens:
            continue  # not a simple agent: long answers may need the larger model
        if line.token_efficiency >= rules.min_token_efficiency:
            continue
        smaller = prices.tokens.prices[price.smaller]
        now = price.cost(line.prompt_tokens, line.cached_tokens, line.completion_tokens)
        then = smaller.cost(line.prompt_tokens, line.cached_tokens, line.completion_tokens)
        found.append(
            Recommendation(
                rule=RuleCheck(
                    name="low_token_efficiency",
                    description=(
                        "output tokens are less than this share of a simple agent's tokens "
                        f"(simple: at most {rules.max_simple_output_tokens:g} output tokens "
                        "per item)"
                    ),
                    comparison="<",
                    threshold=rules.min_token_efficiency,
                    observed=line.token_efficiency,
                ),
                subject=pair.agent,
                action=f"try {price.smaller} instead of {pair.deployment} for agent {pair.agent}",
                estimated_saving=now - then,
                figures={
                    "items": line.items,
                    "mean_output_tokens": mean_output,
                    "token_cost": now,
                    "token_cost_smaller_model": then,
                },
            )
        )
    return found


def _cache_ttl(
    rules: CostRules, agent_lines: Sequence[UsageLine], agents: Mapping[str, AgentProfile] | None
) -> list[Recommendation]:
    found = []
    for line in agent_lines:
        profile = agents.get(line.name) if agents is not None else None
        if agents is not None and (profile is None or profile.cache_ttl_s == 0):
            continue  # caching is off for this agent: a longer TTL changes nothing
        if line.items < rules.min_items or line.cache_hit_rate >= rules.min_cache_hit_rate:
            continue
        figures: dict[str, float] = {"items": line.items, "cache_hits": line.cache_hits}
        action = f"lengthen the cache TTL of agent {line.name}"
        if profile is not None:
            if profile.cache_ttl_s >= MAX_CACHE_TTL_S:
                continue  # already as long as it may be
            longer = min(2 * profile.cache_ttl_s, MAX_CACHE_TTL_S)
            figures |= {"cache_ttl_s": profile.cache_ttl_s, "suggested_cache_ttl_s": longer}
            action += f" from {profile.cache_ttl_s} s to {longer} s"
        found.append(
            Recommendation(
                rule=RuleCheck(
                    name="low_cache_hit_rate",
                    description="share of an agent's items answered from the response cache",
                    comparison="<",
                    threshold=rules.min_cache_hit_rate,
                    observed=line.cache_hit_rate,
                ),
                subject=line.name,
                action=action,
                estimated_saving=None,  # depends on how often queries repeat, not in the data
                figures=figures,
            )
        )
    return found


def _unpriced(deployment_lines: Sequence[UsageLine]) -> list[Recommendation]:
    return [
        Recommendation(
            rule=RuleCheck(
                name="unpriced_deployment",
                description="items on a deployment the price table has no price for",
                comparison=">",
                threshold=0,
                observed=line.unpriced_items,
            ),
            subject=line.name,
            action=f"add a price for {line.name} to the price table; its cost is unknown",
            estimated_saving=None,
            figures={
                "unpriced_items": line.unpriced_items,
                "unpriced_tokens": line.unpriced_tokens,
            },
        )
        for line in deployment_lines
        if line.unpriced_items
    ]


def _failed_spend(rules: CostRules, agent_lines: Sequence[UsageLine]) -> list[Recommendation]:
    found = []
    for line in agent_lines:
        if line.items < rules.min_items or not line.total_tokens:
            continue
        share = line.failed_tokens / line.total_tokens
        if share <= rules.max_failed_token_share:
            continue
        found.append(
            Recommendation(
                rule=RuleCheck(
                    name="failed_item_spend",
                    description="share of an agent's tokens spent on items that failed",
                    comparison=">",
                    threshold=rules.max_failed_token_share,
                    observed=share,
                ),
                subject=line.name,
                action=f"look into why items of agent {line.name} fail: their tokens buy nothing",
                estimated_saving=None,  # fixing failures may need more tokens, not fewer
                figures={
                    "failed_items": line.failed_items,
                    "failed_tokens": line.failed_tokens,
                    "total_tokens": line.total_tokens,
                },
            )
        )
    return found


def _cost_growth(
    rules: CostRules, totals: CostTotals, previous: CostTotals
) -> list[Recommendation]:
    before, now = previous.priced_cost, totals.priced_cost
    if before <= 0 or (now - before) / before <= rules.max_cost_growth:
        return []
    growth = (now - before) / before
    return [
        Recommendation(
            rule=RuleCheck(
                name="cost_growth",
                description="growth of the priced total cost against the period before",
                comparison=">",
                threshold=rules.max_cost_growth,
                observed=growth,
            ),
            subject="total cost",
            action="check the agents and tenants whose cost grew most, and their budgets",
            estimated_saving=None,
            figures={"cost": now, "previous_cost": before},
        )
    ]
