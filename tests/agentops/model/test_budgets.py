from datetime import UTC, date, datetime

import pytest

from agentops.model.budgets import BudgetLimit, Budgets
from agentops.model.types import BudgetExceededError, Usage

TODAY = date(2025, 3, 1)


def make_budgets(store, clock, **kwargs) -> Budgets:
    return Budgets(store, now=clock.wall, monotonic=clock, refresh_s=0, **kwargs)


async def test_refused_before_start_when_already_at_the_limit(store, clock):
    await store.add_usage("tenant:contoso", TODAY, 1000, 0.0)
    budgets = make_budgets(store, clock, tenants={"contoso": BudgetLimit(tokens=1000)})
    with pytest.raises(BudgetExceededError) as refused:
        await budgets.check("contoso", "helper", 0)
    assert refused.value.scope == "tenant:contoso"
    assert refused.value.status == 429
    assert refused.value.resets_at == datetime(2025, 3, 2, tzinfo=UTC)
    await budgets.check("fabrikam", "helper", 10_000)  # another tenant is unaffected


async def test_estimate_that_would_exceed_is_refused(store, clock):
    budgets = make_budgets(store, clock, agents={"helper": BudgetLimit(tokens=500)})
    await budgets.check("contoso", "helper", 500)
    with pytest.raises(BudgetExceededError, match="agent:helper"):
        await budgets.check("contoso", "helper", 501)


async def test_cost_limit_stops_a_run_mid_way_and_resets_next_day(store, clock):
    budgets = make_budgets(store, clock, tenants={"contoso": BudgetLimit(cost=1.0)})
    done = 0
    with pytest.raises(BudgetExceededError):
        for _ in range(100):
            await budgets.check("contoso", "helper", 100)
            await budgets.record("contoso", "helper", Usage(50, 50), 0.3)
            done += 1
    assert done == 4  # 0.3 * 4 = 1.2: the fourth pushed it over, the fifth was refused
    assert await store.get_usage("tenant:contoso", TODAY) == (400, pytest.approx(1.2))
    assert await store.get_usage("agent:helper", TODAY) == (0, 0)  # no limit: not counted
    clock.advance(12 * 3600)  # past midnight UTC
    await budgets.check("contoso", "helper", 100)


async def test_cached_totals_follow_own_records_between_refreshes(store, clock):
    budgets = Budgets(
        store, now=clock.wall, monotonic=clock, refresh_s=5, tenants={"c": BudgetLimit(tokens=100)}
    )
    await budgets.check("c", "a", 0)
    await budgets.record("c", "a", Usage(30, 20), 0.0)  # its own record counts at once
    with pytest.raises(BudgetExceededError):
        await budgets.check("c", "a", 51)
    await store.add_usage("tenant:c", TODAY, 50, 0.0)  # another worker's usage
    await budgets.check("c", "a", 0)  # not seen yet
    clock.advance(5)
    with pytest.raises(BudgetExceededError):
        await budgets.check("c", "a", 0)  # seen after the refresh


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        BudgetLimit(tokens=0)
    with pytest.raises(ValueError):
        BudgetLimit(cost=-1.0)


async def test_spent_today_lists_every_budgeted_scope_from_the_store(store, clock):
    tenant, agent = BudgetLimit(tokens=1000), BudgetLimit(cost=2.0)
    budgets = make_budgets(
        store, clock, tenants={"fabrikam": tenant, "contoso": tenant}, agents={"helper": agent}
    )
    await budgets.record("contoso", "helper", Usage(100, 50), 0.25)
    await store.add_usage("tenant:fabrikam", TODAY, 70, 0.1)  # another worker's usage
    await store.add_usage("agent:unlimited", TODAY, 999, 9.0)  # no budget: not listed
    day, spent = await budgets.spent_today()
    assert day == TODAY
    assert [(s.scope, s.limit, s.tokens, s.cost) for s in spent] == [
        ("tenant:contoso", tenant, 150, 0.25),
        ("tenant:fabrikam", tenant, 70, pytest.approx(0.1)),
        ("agent:helper", agent, 150, 0.25),
    ]
    clock.advance(12 * 3600)  # a new UTC day starts from nothing
    day, spent = await budgets.spent_today()
    assert day == date(2025, 3, 2) and {(s.tokens, s.cost) for s in spent} == {(0, 0.0)}
