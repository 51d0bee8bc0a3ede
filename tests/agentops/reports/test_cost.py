from __future__ import annotations

from dataclasses import replace

import pytest

from agentops.reports import (
    AgentProfile,
    ComputeActivity,
    CostReport,
    CostRules,
    ItemUsage,
    build_cost_report,
)
from agentops.reports.compute import estimate_compute, estimate_storage
from tests.agentops.reports.sample import DAY, GIB, at

approx = pytest.approx


def report(items, prices, **kwargs) -> CostReport:
    return build_cost_report(items, period=DAY, prices=prices, generated_at=DAY.end, **kwargs)


def by_name(lines):
    return {line.name: line for line in lines}


def rule_names(result: CostReport) -> list[str]:
    return [r.rule.name for r in result.recommendations]


def test_figures_match_the_hand_computed_ones(items, previous_items, compute, prices):
    result = report(items, prices, previous_items=previous_items, compute=compute)

    tokens = result.totals.tokens
    assert tokens.items == 4  # the row of the day before is not counted
    assert (tokens.prompt_tokens, tokens.cached_tokens, tokens.completion_tokens) == (
        3300,
        200,
        700,
    )
    assert tokens.total_tokens == 4000
    assert tokens.priced_cost == approx(0.010195)  # 0.000195 + 0.01
    assert tokens.unpriced_tokens == 400
    assert tokens.saved_cost == approx(0.0002)
    assert result.totals.cache_hit_rate == approx(0.25)  # 1 hit in 4 items

    deployments = by_name(result.by_deployment)
    assert deployments["gpt-4o"].cost == approx(0.01)
    assert deployments["gpt-4o-mini"].cost == approx(0.000195)
    assert deployments["gpt-4o-mini"].cache_hits == 1
    # Unpriced lines lead, then the most expensive.
    assert [line.name for line in result.by_deployment] == ["llama-local", "gpt-4o", "gpt-4o-mini"]

    agents = by_name(result.by_agent)
    assert agents["calc"].cost == approx(0.000195)
    assert agents["summ"].cost == approx(0.01)
    assert agents["summ"].recorded_cost == approx(0.01)
    tenants = by_name(result.by_tenant)
    assert tenants["tenant-a"].cost == approx(0.010195)
    assert tenants["tenant-b"].cost is None
    assert tenants["tenant-b"].unpriced_tokens == 400

    # Compute, 2 GB x 86,400 s of baseline and 7,200 s active, all on the always-ready instance:
    c = result.totals.compute
    assert c is not None
    assert c.always_ready_baseline_gb_s == approx(172_800)
    assert c.always_ready_baseline_cost == approx(0.6912)  # 172,800 x 0.000004
    assert c.always_ready_active_gb_s == approx(14_400)
    assert c.always_ready_execution_cost == approx(0.2304)  # 14,400 x 0.000016
    assert c.on_demand_gb_s == 0
    assert c.executions_cost == approx(0.004)  # 10,000 x 0.40 / 1e6
    assert c.cost == approx(0.9256)
    assert c.always_ready_utilisation == approx(7200 / 86400)
    # Storage: 10 GiB for 24 of 730 hours at 0.018 per GB-month.
    s = result.totals.storage
    assert s is not None
    assert s.gb_months == approx(10 * 24 / 730)
    assert s.cost == approx(10 * 24 / 730 * 0.018)  # 0.0059178...

    assert result.totals.priced_cost == approx(0.010195 + 0.9256 + 10 * 24 / 730 * 0.018)
    assert result.prices.version == prices.version
    assert result.prices.tokens_source.startswith("https://")


def test_unpriced_deployment_is_never_counted_as_free(items, prices):
    result = report(items, prices)

    line = by_name(result.by_deployment)["llama-local"]
    assert line.cost is None
    assert (line.unpriced_items, line.unpriced_tokens) == (1, 400)
    assert result.unpriced_deployments == ["llama-local"]
    assert result.totals.tokens.cost is None  # the total is unknown, not the priced part
    assert result.totals.cost is None
    assert by_name(result.by_agent)["local"].cost is None
    # The same usage on a priced deployment has a cost: the field was None for want of a price.
    priced = report([replace(items[3], deployment="gpt-4o-mini")], prices)
    assert priced.totals.tokens.cost == approx((300 * 0.15 + 100 * 0.60) / 1e6)
    assert priced.unpriced_deployments == []


def test_model_is_the_fallback_price_of_an_unknown_deployment(prices):
    row = ItemUsage(at(1), "t", "a", "team-mini", 1000, 0, model="gpt-4o-mini")
    assert report([row], prices).totals.tokens.cost == approx(1000 * 0.15 / 1e6)


def test_deltas_against_the_period_before(items, previous_items, prices):
    deltas = {d.metric: d for d in report(items, prices, previous_items=previous_items).deltas}

    assert deltas["total_tokens"].previous == 1250
    assert deltas["total_tokens"].change == 2750  # 4000 - 1250
    assert deltas["total_tokens"].change_ratio == approx(2.2)
    assert deltas["token_cost_priced"].change_ratio == approx((0.010195 - 0.005) / 0.005)
    assert deltas["items"].change == 3
    # Nothing before: no ratio rather than a division by zero.
    assert deltas["compute_cost"].change_ratio is None


def test_previous_rows_outside_the_period_before_are_ignored(items, prices):
    stray = ItemUsage(at(30), "t", "summ", "gpt-4o", 1000, 0)  # tomorrow, not yesterday
    assert report(items, prices, previous_items=[stray]).previous_totals.tokens.items == 0


def test_compute_splits_active_time_beyond_always_ready_capacity(prices):
    # 200,000 s of executions two at a time: 100,000 instance-seconds; the always-ready instance
    # takes 86,400 and 13,600 run on demand, and the executions follow the same shares.
    activity = ComputeActivity(1000, 200_000, always_ready_instances=1, per_instance_concurrency=2)
    c = estimate_compute(activity, DAY, prices.flex_consumption)
    assert c.active_instance_seconds == 100_000
    assert c.always_ready_utilisation == 1.0
    assert c.on_demand_gb_s == approx(13_600 * 2)
    assert c.on_demand_execution_time_cost == approx(27_200 * 0.000026)
    assert (c.always_ready_executions, c.on_demand_executions) == (864, 136)


def test_storage_estimate_prorates_the_month(prices):
    month = estimate_storage(GIB, DAY, prices.blob_storage)
    assert month.cost == approx(prices.blob_storage.per_gb_month * 24 / 730)


def test_report_round_trips_through_json(items, previous_items, compute, prices):
    result = report(items, prices, previous_items=previous_items, compute=compute)
    assert CostReport.model_validate_json(result.model_dump_json()) == result


# --- recommendations: each fires on data built for it and stays quiet on data built not to ---


def test_low_always_ready_utilisation(items, compute, prices):
    result = report(items, prices, compute=compute)
    (rec,) = [r for r in result.recommendations if r.rule.name == "low_always_ready_utilisation"]
    assert rec.rule.observed == approx(7200 / 86400)
    assert rec.rule.threshold == 0.2
    assert rec.figures["suggested_instances"] == 0  # floor(0.0833 x 1 / 0.2)
    # With none always ready, 14,400 GB-s run on demand: 0.3744 + 0.004 executions.
    assert rec.estimated_saving == approx(0.9256 - 0.3784)

    busy = replace(compute, execution_seconds=43_200)  # half the day: utilisation 0.5
    assert "low_always_ready_utilisation" not in rule_names(report(items, prices, compute=busy))
    none_ready = replace(compute, always_ready_instances=0)
    assert "low_always_ready_utilisation" not in rule_names(
        report(items, prices, compute=none_ready)
    )


def simple_agent(n: int, prompt: int, completion: int, deployment: str = "gpt-4o"):
    return [ItemUsage(at(1), "t", "triage", deployment, prompt, completion) for _ in range(n)]


def test_low_token_efficiency_suggests_the_smaller_model(prices):
    # 20 items of 900 prompt + 100 output tokens: efficiency 0.1, 100 output tokens an item.
    result = report(simple_agent(20, 900, 100), prices)
    (rec,) = [r for r in result.recommendations if r.rule.name == "low_token_efficiency"]
    assert rec.subject == "triage"
    assert "gpt-4o-mini" in rec.action
    assert rec.rule.observed == approx(0.1)
    # gpt-4o: 20 x (900 x 2.50 + 100 x 10) / 1e6 = 0.065; gpt-4o-mini: 20 x 195 / 1e6 = 0.0039
    assert rec.estimated_saving == approx(0.065 - 0.0039)

    quiet = [
        simple_agent(20, 300, 200),  # efficient: 0.4
        simple_agent(20, 3600, 400),  # long answers: not a simple agent
        simple_agent(19, 900, 100),  # too few items to judge
        simple_agent(20, 900, 100, deployment="gpt-4o-mini"),  # no smaller model listed
    ]
    for rows in quiet:
        assert "low_token_efficiency" not in rule_names(report(rows, prices))


def cache_rows(hits: int, n: int = 20):
    return [
        ItemUsage(at(1), "t", "calc", "gpt-4o-mini", 100, 10, cache_hit=i < hits) for i in range(n)
    ]


def test_low_cache_hit_rate_suggests_a_longer_ttl(prices):
    agents = {"calc": AgentProfile("calc", "gpt-4o-mini", cache_ttl_s=600)}
    result = report(cache_rows(10), prices, agents=agents)
    (rec,) = [r for r in result.recommendations if r.rule.name == "low_cache_hit_rate"]
    assert rec.rule.observed == approx(0.5)
    assert rec.rule.threshold == 0.7
    assert rec.figures["suggested_cache_ttl_s"] == 1200

    assert "low_cache_hit_rate" not in rule_names(report(cache_rows(14), prices, agents=agents))
    no_cache = {"calc": AgentProfile("calc", "gpt-4o-mini", cache_ttl_s=0)}
    assert "low_cache_hit_rate" not in rule_names(report(cache_rows(10), prices, agents=no_cache))


def test_unpriced_deployment_is_recommended_a_price(items, prices):
    (rec,) = [
        r for r in report(items, prices).recommendations if r.rule.name == "unpriced_deployment"
    ]
    assert rec.subject == "llama-local"
    assert rec.figures["unpriced_tokens"] == 400
    assert "unpriced_deployment" not in rule_names(report(items[:3], prices))


def failing_rows(failed: int):
    return [
        ItemUsage(at(1), "t", "calc", "gpt-4o-mini", 100, 100, failed=i < failed) for i in range(20)
    ]


def test_tokens_spent_on_failed_items(prices):
    (rec,) = [
        r
        for r in report(failing_rows(3), prices).recommendations
        if r.rule.name == "failed_item_spend"
    ]
    assert rec.rule.observed == approx(0.15)  # 3 of 20 equal items
    assert "failed_item_spend" not in rule_names(report(failing_rows(2), prices))  # 0.1 is not over


def test_cost_growth_against_the_period_before(items, previous_items, prices):
    result = report(items[:3], prices, previous_items=previous_items)
    (rec,) = [r for r in result.recommendations if r.rule.name == "cost_growth"]
    assert rec.rule.observed == approx((0.010195 - 0.005) / 0.005)

    # Before: 1000 x 2.50 + 550 x 10 = 8000 per million: growth 0.274, under 0.5.
    steady = [replace(previous_items[0], completion_tokens=550)]
    assert "cost_growth" not in rule_names(report(items[:3], prices, previous_items=steady))
    stricter = CostRules(max_cost_growth=0.2)
    assert "cost_growth" in rule_names(
        report(items[:3], prices, previous_items=steady, rules=stricter)
    )
