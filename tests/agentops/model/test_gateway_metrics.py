"""The model path's metrics, read back from in-memory providers, for calls through the gateway to
the devhost model simulator: what they count must be what the answers and the store say."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agentops.agents.registry import AgentRegistry
from agentops.agents.runner import AgentRunner
from agentops.auth import LOCAL_PRINCIPAL
from agentops.bootstrap import build_services
from agentops.model.breaker import BreakerConfig, BreakerRegistry, BreakerState
from agentops.model.budgets import BudgetGate, BudgetLimit, Budgets
from agentops.model.cache import ResponseCache
from agentops.model.gateway import ModelGateway
from agentops.model.openai_client import ModelConnection
from agentops.model.pricing import Price, PriceTable
from agentops.model.rate_limiter import RateLimiter, RateLimits
from agentops.model.retry import RetryPolicy
from agentops.model.types import (
    BudgetExceededError,
    CircuitOpenError,
    ModelRequest,
    PermanentModelError,
    TransientModelError,
)
from agentops.runs.contracts import BatchWork
from agentops.runs.requests import RunRequest
from agentops.settings import Settings
from devhost.simulator import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background
from tests.telemetry_capture import CapturedTelemetry

from .conftest import VirtualClock

AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"
REGISTRY = AgentRegistry.from_yaml(AGENTS)
DEPLOYMENT = "gpt-4o-mini"
PRICES = PriceTable({DEPLOYMENT: Price(1.0, 2.0)})  # round numbers: 1 + 2 per 1K tokens
ROOMY = {"tenants": {"contoso": BudgetLimit(tokens=10**9)}}


def request(query: str) -> ModelRequest:
    return REGISTRY.request_for("summarizer", "contoso", query)


async def _runner(config: SimulatorConfig) -> AsyncIterator[AgentRunner]:
    async with serve_in_background(config) as sim:
        connection = ModelConnection.openai_compatible(
            base_url=sim.url, api_key=SecretStr("local"), timeout_s=10.0
        )
        try:
            yield AgentRunner(REGISTRY, connection)
        finally:
            await connection.aclose()


@pytest.fixture
async def runner() -> AsyncIterator[AgentRunner]:
    async for made in _runner(SimulatorConfig()):
        yield made


@pytest.fixture
async def flaky_runner() -> AsyncIterator[AgentRunner]:
    """An endpoint whose first two requests fail with 503, healthy after that."""
    faults = {"schedule": [{"requests": 2, "fault": "503"}]}
    async for made in _runner(SimulatorConfig.model_validate({"faults": faults})):
        yield made


def make_gateway(
    runner: AgentRunner,
    store: Any,
    clock: VirtualClock,
    *,
    budgets: dict[str, Any] | None = None,
    limits: dict[str, RateLimits] | None = None,
    breakers: BreakerRegistry | None = None,
) -> ModelGateway:
    return ModelGateway(
        runner.invoke,
        prices=PRICES,
        cache=ResponseCache(store, clock=clock.epoch),
        budgets=Budgets(store, now=clock.wall, monotonic=clock, refresh_s=0, **(budgets or ROOMY)),
        limiter=RateLimiter(limits or {}, clock=clock, sleep=clock.sleep),
        breakers=breakers or BreakerRegistry(clock=clock),
        policy=RetryPolicy(inline_retries=0),
        sleep=clock.sleep,
    )


def labels(point: Any) -> set[str]:
    return set(point.attributes)


async def test_an_answer_counts_its_call_tokens_and_cost_and_its_repeat_what_it_saved(
    runner: AgentRunner, store: Any, clock: VirtualClock, captured_telemetry: CapturedTelemetry
) -> None:
    gateway = make_gateway(runner, store, clock)
    answer = await gateway.call(request("The quarterly report shows revenue of 12 million."))
    who = {"agent": "summarizer", "deployment": DEPLOYMENT}
    t = captured_telemetry

    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert answer.cost == pytest.approx(PRICES.cost(answer.usage, DEPLOYMENT)) and answer.cost > 0
    assert t.total("agent.llm.calls.total", **who, outcome="ok") == 1
    assert t.total("agent.tokens.used", **who, token__type="input") == answer.usage.prompt_tokens
    assert (
        t.total("agent.tokens.used", **who, token__type="output") == answer.usage.completion_tokens
    )
    assert t.total("agentops.cost", **who, tenant="contoso") == pytest.approx(answer.cost)
    assert t.total("agentops.cache.lookups", agent="summarizer", outcome="miss") == 1

    again = await gateway.call(request("the quarterly report shows  revenue of 12 million."))
    assert again.cached and again.cost == 0.0
    assert again.saved_cost == pytest.approx(answer.cost)
    assert t.total("agentops.cache.lookups", agent="summarizer", outcome="hit") == 1
    assert t.total("agentops.cache.saved_cost", agent="summarizer") == pytest.approx(answer.cost)
    # The hit called no model and spent nothing.
    assert t.total("agent.llm.calls.total") == 1
    assert t.total("agentops.cost") == pytest.approx(answer.cost)

    with pytest.raises(PermanentModelError):
        await gateway.call(request("Summarise this: [simulate-content-filter]"))
    assert t.total("agent.llm.calls.total", **who, outcome="permanent") == 1

    ours = [p for p in t.points() if p.name.startswith(("agent.", "agentops."))]
    assert {p.name: labels(p) for p in ours} == {
        "agent.llm.calls.total": {"agent", "deployment", "outcome"},
        "agent.tokens.used": {"agent", "deployment", "token.type"},
        "agentops.cost": {"tenant", "agent", "deployment"},
        "agentops.cache.lookups": {"agent", "outcome"},
        "agentops.cache.saved_cost": {"agent"},
        "agentops.breaker.state": {"deployment"},
        # The runner's own: agents built and runs.
        "agent.created.total": {"agent"},
        "agent.executed.total": {"agent", "outcome"},
    }


async def test_a_breaker_opens_rejects_and_closes_with_its_state_gauge(
    flaky_runner: AgentRunner,
    store: Any,
    clock: VirtualClock,
    captured_telemetry: CapturedTelemetry,
) -> None:
    breakers = BreakerRegistry(
        BreakerConfig(failure_threshold=2, min_calls=2, cool_down_s=30.0), clock=clock
    )
    gateway = make_gateway(flaky_runner, store, clock, breakers=breakers)
    t = captured_telemetry

    def read_gauge() -> None:  # one collection: the gauge's last value since the previous one
        t.points("agentops.breaker.state")

    for index in range(2):
        with pytest.raises(TransientModelError) as failed:
            await gateway.call(request(f"failing text {index}"))
        assert failed.value.status == 503
        read_gauge()
    assert breakers.states() == {DEPLOYMENT: BreakerState.OPEN}
    with pytest.raises(CircuitOpenError):
        await gateway.call(request("refused text"))
    assert t.total("agent.llm.calls.total", outcome="transient", deployment=DEPLOYMENT) == 2
    assert t.total("agentops.breaker.rejections", deployment=DEPLOYMENT) == 1
    assert t.total("agentops.breaker.transitions", deployment=DEPLOYMENT, state="open") == 1

    clock.advance(30.0)
    assert breakers.states() == {DEPLOYMENT: BreakerState.HALF_OPEN}  # as a health probe reads it
    read_gauge()
    await gateway.call(request("probe text"))  # the half-open probe, answered
    read_gauge()

    gauge = [p.value for p in t.points("agentops.breaker.state")]
    assert gauge == [0.0, 2.0, 1.0, 0.0]  # created closed, open, half open, closed again
    assert t.total("agentops.breaker.transitions", state="half_open") == 1
    assert t.total("agentops.breaker.transitions", state="closed") == 1
    assert t.total("agent.llm.calls.total", outcome="ok") == 1


async def test_the_limiter_records_only_the_calls_it_made_wait(
    runner: AgentRunner, store: Any, clock: VirtualClock, captured_telemetry: CapturedTelemetry
) -> None:
    one_a_second = {DEPLOYMENT: RateLimits(rpm=60, window_s=1)}
    gateway = make_gateway(runner, store, clock, limits=one_a_second)
    for index in range(3):
        await gateway.call(request(f"paced text {index}"))
    (point,) = captured_telemetry.points("agentops.limiter.wait")
    assert point.attributes == {"deployment": DEPLOYMENT}
    assert (point.count, point.value) == (2, pytest.approx(2000.0))  # the 2nd and 3rd, 1 s each
    assert clock.sleeps == pytest.approx([1.0, 1.0])


async def test_budget_refusals_are_counted_for_items_and_for_runs(
    runner: AgentRunner, store: Any, clock: VirtualClock, captured_telemetry: CapturedTelemetry
) -> None:
    tight = {"tenants": {"contoso": BudgetLimit(tokens=100)}}
    gateway = make_gateway(runner, store, clock, budgets=tight)
    with pytest.raises(BudgetExceededError):
        await gateway.call(request("refused text"))  # its estimate alone passes 100 tokens
    budgets = Budgets(store, now=clock.wall, monotonic=clock, **tight)
    with pytest.raises(BudgetExceededError):
        await BudgetGate(budgets).check("contoso", "summarizer", estimated_tokens=500)
    t = captured_telemetry
    assert t.total("agentops.budget.refusals", tenant="contoso", agent="summarizer") == 2
    assert t.total("agentops.budget.refusals", scope="tenant") == 2
    assert t.points("agent.llm.calls.total") == []


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig()) as running:
        yield running


async def test_a_small_run_meters_what_its_items_store(
    tmp_path: Path, sim: RunningSimulator, captured_telemetry: CapturedTelemetry
) -> None:
    settings = Settings(
        store="sqlite",
        sqlite_path=tmp_path / "agentops.db",
        model_endpoint=sim.url,
        tenant_budgets={"local": {"tokens": 10**9}},
    )
    services = build_services(settings)
    queries = ["alpha text to sum up", "beta text to sum up", "alpha text to sum up"]
    try:
        run = await services.runs.create(LOCAL_PRINCIPAL, "summarizer", RunRequest(queries=queries))
        work = BatchWork(
            run_id=run.run_id,
            tenant="local",
            agent="summarizer",
            indexes=[0, 1, 2],
            concurrency=1,  # in order, so the repeated query is a cache hit
        )
        report = await services.batches.run(work)
        totals = await services.store.item_totals(run.run_id)
    finally:
        await services.aclose()

    t = captured_telemetry
    assert report.completed == 3
    assert t.total("agent.llm.calls.total", outcome="ok") == 2
    assert t.total("agentops.cache.lookups", outcome="hit") == 1
    assert t.total("agent.tokens.used", token__type="input") == totals.usage.prompt_tokens
    assert t.total("agent.tokens.used", token__type="output") == totals.usage.completion_tokens
    assert t.total("agentops.cost", tenant="local") == pytest.approx(totals.cost)
    assert totals.cost > 0
    assert t.total("agentops.cache.saved_cost") == pytest.approx(totals.saved_cost)
    assert totals.saved_cost > 0
    # Nothing of the run's own in any attribute: no query, no run id.
    values = {str(v) for p in t.points() for v in p.attributes.values()}
    assert not values & {*queries, run.run_id}
    assert not any(run.run_id in value for value in values)
