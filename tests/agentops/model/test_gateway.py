from collections.abc import Callable

import pytest

from agentops.model.breaker import BreakerConfig, BreakerRegistry, BreakerState
from agentops.model.budgets import BudgetLimit, Budgets
from agentops.model.cache import ResponseCache
from agentops.model.gateway import ModelGateway, model_calls_of
from agentops.model.pricing import Price, PriceTable
from agentops.model.rate_limiter import RateLimiter, RateLimits
from agentops.model.retry import RetryPolicy
from agentops.model.types import (
    BudgetExceededError,
    CircuitOpenError,
    ModelAnswer,
    ModelError,
    ModelRequest,
    PermanentModelError,
    TransientModelError,
    Usage,
)

from .conftest import TODAY_OF, make_request

# Limits far above any test's use, so that usage is counted without refusing anything.
ROOMY = {
    "tenants": {"contoso": BudgetLimit(tokens=10**9)},
    "agents": {"helper": BudgetLimit(tokens=10**9)},
}
PRICES = PriceTable({"gpt-4o-mini": Price(1.0, 2.0)})  # round numbers: 1 + 2 per 1K tokens


class Endpoint:
    """The model behind ``invoke``: answers, or raises the errors queued for it, in order."""

    def __init__(self, *errors: ModelError) -> None:
        self.errors = list(errors)
        self.calls: list[ModelRequest] = []
        self.on_call: Callable[[], None] = lambda: None

    async def __call__(self, request: ModelRequest) -> ModelAnswer:
        self.calls.append(request)
        self.on_call()
        if self.errors:
            raise self.errors.pop(0)
        return ModelAnswer(f"answer to {request.query}", Usage(600, 400), "gpt-4o-mini")


def make_gateway(
    store,
    clock,
    endpoint,
    *,
    limits=None,
    budgets=None,
    policy=None,
    breaker=None,
    stream_invoke=None,
) -> ModelGateway:
    return ModelGateway(
        endpoint,
        prices=PRICES,
        cache=ResponseCache(store, clock=clock.epoch),
        budgets=Budgets(store, now=clock.wall, monotonic=clock, refresh_s=0, **(budgets or ROOMY)),
        limiter=RateLimiter(limits or {}, clock=clock, sleep=clock.sleep),
        breakers=BreakerRegistry(
            breaker or BreakerConfig(failure_threshold=2, min_calls=2), clock=clock
        ),
        policy=policy or RetryPolicy(max_attempts=4, inline_max_wait_s=2.0),
        sleep=clock.sleep,
        stream_invoke=stream_invoke,
    )


async def test_miss_bills_once_and_the_repeat_comes_from_cache(store, clock):
    endpoint = Endpoint()
    gateway = make_gateway(store, clock, endpoint)
    first = await gateway.call(make_request())
    assert (first.cached, first.model_calls, first.usage) == (False, 1, Usage(600, 400))
    again = await gateway.call(make_request(query="  WHAT is 2 + 2? "))
    assert (again.cached, again.model_calls, again.usage, again.text) == (
        True,
        0,
        Usage(),
        first.text,
    )
    assert len(endpoint.calls) == 1
    day = TODAY_OF(clock)
    assert await store.get_usage("tenant:contoso", day) == (1000, pytest.approx(1.4))
    assert await store.get_usage("agent:helper", day) == (1000, pytest.approx(1.4))
    assert (first.cost, first.saved_cost) == (pytest.approx(1.4), 0.0)
    assert (again.cost, again.saved_cost) == (0.0, pytest.approx(1.4))


async def test_budget_refusal_happens_before_limiter_and_model(store, clock):
    limits = {"gpt-4o-mini": RateLimits(rpm=10)}
    endpoint = Endpoint()
    gateway = make_gateway(
        store,
        clock,
        endpoint,
        limits=limits,
        budgets={"tenants": {"contoso": BudgetLimit(tokens=100)}},
    )
    with pytest.raises(BudgetExceededError) as refused:
        await gateway.call(make_request())  # estimate alone is over 100 tokens
    assert refused.value.scope == "tenant:contoso"
    assert model_calls_of(refused.value) == 0
    assert endpoint.calls == []
    assert gateway._limiter.for_deployment("gpt-4o-mini")._requests.level == 10 * 1.0


async def test_a_run_stops_when_the_budget_is_reached(store, clock):
    endpoint = Endpoint()
    gateway = make_gateway(
        store, clock, endpoint, budgets={"agents": {"helper": BudgetLimit(cost=5.0)}}
    )
    answered = 0
    with pytest.raises(BudgetExceededError):
        for index in range(100):
            await gateway.call(make_request(query=f"item {index}"))
            answered += 1
    assert answered == 4  # 1.4 each: 4.2 spent, a fifth would pass 5.0 with its estimate
    assert len(endpoint.calls) == 4
    clock.advance(12 * 3600)  # the next UTC day
    await gateway.call(make_request(query="tomorrow"))


async def test_open_breaker_fails_fast_without_queueing_or_calling(store, clock):
    limits = {"gpt-4o-mini": RateLimits(rpm=60)}
    endpoint = Endpoint(*(TransientModelError("503", status=503) for _ in range(2)))
    gateway = make_gateway(
        store, clock, endpoint, limits=limits, policy=RetryPolicy(inline_retries=0)
    )
    for index in range(2):
        with pytest.raises(TransientModelError):
            await gateway.call(make_request(query=f"q{index}"))
    assert gateway._breakers.get("gpt-4o-mini").state is BreakerState.OPEN
    requests_left = gateway._limiter.for_deployment("gpt-4o-mini")._requests.level
    with pytest.raises(CircuitOpenError) as refused:
        await gateway.call(make_request(query="q2"))
    assert refused.value.retry_after_s == pytest.approx(30.0)
    assert model_calls_of(refused.value) == 0
    assert len(endpoint.calls) == 2
    assert gateway._limiter.for_deployment("gpt-4o-mini")._requests.level == requests_left
    clock.advance(30.0)
    answer = await gateway.call(make_request(query="q3"))  # the half-open probe
    assert answer.model_calls == 1
    assert gateway._breakers.get("gpt-4o-mini").state is BreakerState.CLOSED


async def test_a_failed_probe_reopens_the_breaker_without_spending_the_items_attempt(store, clock):
    endpoint = Endpoint(*(TransientModelError("503", status=503) for _ in range(3)))
    gateway = make_gateway(store, clock, endpoint, policy=RetryPolicy(inline_retries=0))
    for index in range(2):
        with pytest.raises(TransientModelError):
            await gateway.call(make_request(query=f"q{index}"))
    clock.advance(30.0)
    with pytest.raises(CircuitOpenError) as reopened:
        await gateway.call(make_request(query="probe"), attempts_used=2)
    # The endpoint saw the probe; the item is not charged for it and waits out a cool-down.
    assert len(endpoint.calls) == 3
    assert model_calls_of(reopened.value) == 0
    assert reopened.value.retry_after_s == pytest.approx(30.0)
    assert "503" in reopened.value.reason
    assert gateway._breakers.get("gpt-4o-mini").state is BreakerState.OPEN


async def test_short_retry_after_is_retried_inline_and_billed_once(store, clock):
    endpoint = Endpoint(TransientModelError("429", status=429, retry_after_s=0.5))
    gateway = make_gateway(store, clock, endpoint)
    answer = await gateway.call(make_request(), attempts_used=1)
    assert answer.model_calls == 2 and clock.sleeps == [0.5]
    assert await store.get_usage("tenant:contoso", TODAY_OF(clock)) == (1000, pytest.approx(1.4))


async def test_long_retry_after_goes_back_to_the_orchestrator(store, clock):
    endpoint = Endpoint(TransientModelError("429", status=429, retry_after_s=30.0))
    gateway = make_gateway(store, clock, endpoint)
    with pytest.raises(TransientModelError) as deferred:
        await gateway.call(make_request())
    assert deferred.value.retry_after_s == 30.0 and model_calls_of(deferred.value) == 1
    assert clock.sleeps == []
    assert await store.get_usage("tenant:contoso", TODAY_OF(clock)) == (0, 0.0)


async def test_only_one_inline_retry_and_never_past_the_item_budget(store, clock):
    again = [TransientModelError("500", status=500, retry_after_s=0.1) for _ in range(3)]
    endpoint = Endpoint(*again)
    breaker = BreakerConfig(failure_threshold=10, min_calls=10)
    gateway = make_gateway(store, clock, endpoint, breaker=breaker)
    with pytest.raises(TransientModelError) as first:
        await gateway.call(make_request())
    assert model_calls_of(first.value) == 2
    with pytest.raises(TransientModelError) as last:
        await gateway.call(make_request(), attempts_used=3)  # 4th of 4 attempts
    assert model_calls_of(last.value) == 1
    assert len(endpoint.calls) == 3
    with pytest.raises(ValueError, match="no attempts left"):
        await gateway.call(make_request(), attempts_used=4)


async def test_permanent_error_fails_at_once_and_leaves_the_breaker_alone(store, clock):
    limits = {"gpt-4o-mini": RateLimits(tpm=10_000)}
    endpoint = Endpoint(*(PermanentModelError("content filter", status=400) for _ in range(5)))
    gateway = make_gateway(store, clock, endpoint, limits=limits)
    for _ in range(5):
        with pytest.raises(PermanentModelError) as failed:
            await gateway.call(make_request())
        assert model_calls_of(failed.value) == 1
    assert gateway._breakers.get("gpt-4o-mini").state is BreakerState.CLOSED
    # Nothing was answered: the reserved tokens went back.
    assert gateway._limiter.for_deployment("gpt-4o-mini")._tokens.level == pytest.approx(10_000)
    assert clock.sleeps == []


async def test_limiter_paces_calls_before_the_model(store, clock):
    endpoint = Endpoint()
    limits = {"gpt-4o-mini": RateLimits(rpm=60, window_s=1)}
    gateway = make_gateway(store, clock, endpoint, limits=limits)
    stamps: list[float] = []
    endpoint.on_call = lambda: stamps.append(clock.t)
    for index in range(5):
        await gateway.call(make_request(query=f"q{index}"))
    assert stamps == pytest.approx([1000.0, 1001.0, 1002.0, 1003.0, 1004.0])


async def test_opted_out_agent_calls_the_model_each_time(store, clock):
    endpoint = Endpoint()
    gateway = make_gateway(store, clock, endpoint)
    for _ in range(3):
        answer = await gateway.call(make_request(cache_ttl_s=0))
        assert not answer.cached
    assert len(endpoint.calls) == 3


async def test_throttling_does_not_open_the_breaker(store, clock, captured_telemetry):
    endpoint = Endpoint(
        *(TransientModelError("429", status=429, retry_after_s=5.0) for _ in range(4))
    )
    gateway = make_gateway(store, clock, endpoint, policy=RetryPolicy(inline_retries=0))
    for index in range(4):
        with pytest.raises(TransientModelError):
            await gateway.call(make_request(query=f"q{index}"))
    assert gateway._breakers.get("gpt-4o-mini").state is BreakerState.CLOSED
    assert captured_telemetry.total("agent.llm.calls.total", outcome="throttled") == 4
    assert captured_telemetry.points("agentops.breaker.transitions") == []


def _spent(error: ModelError, usage: Usage) -> ModelError:
    error.usage = usage
    return error


async def test_a_failure_after_spending_tokens_is_billed_and_carries_its_usage(
    store, clock, captured_telemetry
):
    limits = {"gpt-4o-mini": RateLimits(tpm=10_000)}
    # A tool loop refused in its third round: two rounds of tokens were spent.
    failed = _spent(PermanentModelError("tool round limit"), Usage(600, 400))
    gateway = make_gateway(store, clock, Endpoint(failed), limits=limits)
    with pytest.raises(PermanentModelError) as caught:
        await gateway.call(make_request())
    assert caught.value.usage == Usage(600, 400)
    assert caught.value.cost == pytest.approx(1.4)
    # Metered as spent, like an answer's tokens.
    t = captured_telemetry
    assert t.total("agent.llm.calls.total", outcome="permanent") == 1
    assert t.total("agent.tokens.used", token__type="input") == 600
    assert t.total("agent.tokens.used", token__type="output") == 400
    assert t.total("agentops.cost", tenant="contoso") == pytest.approx(1.4)
    day = TODAY_OF(clock)
    assert await store.get_usage("tenant:contoso", day) == (1000, pytest.approx(1.4))
    # The limiter keeps the tokens that were used instead of refunding them.
    level = gateway._limiter.for_deployment("gpt-4o-mini")._tokens.level
    assert level == pytest.approx(10_000 - 1000, abs=1)


async def test_an_inline_retry_after_a_spending_failure_bills_both_calls_once(store, clock):
    first = _spent(TransientModelError("503", status=503, retry_after_s=0.1), Usage(100, 50))
    gateway = make_gateway(store, clock, Endpoint(first))
    answer = await gateway.call(make_request())
    assert answer.usage == Usage(600, 400)
    assert answer.cost == pytest.approx(1.4)  # the answer's own price; the budgets have both
    tokens, cost = await store.get_usage("tenant:contoso", TODAY_OF(clock))
    assert tokens == 1150 and cost == pytest.approx(1.4 + 0.2)


async def test_an_item_finding_its_own_entry_is_billed_once_not_served_a_hit(
    store, clock, captured_telemetry
):
    crashed = make_gateway(store, clock, Endpoint())
    first = await crashed.call(make_request(), item_key="run-1:0")  # outcome lost in a crash
    restarted_endpoint = Endpoint()
    restarted = make_gateway(store, clock, restarted_endpoint)
    again = await restarted.call(make_request(), item_key="run-1:0")
    assert restarted_endpoint.calls == []
    assert (again.text, again.usage, again.cached) == (first.text, Usage(600, 400), False)
    assert again.cost == pytest.approx(first.cost) and again.saved_cost == 0.0
    # Counted against the budgets once, when the model answered.
    assert await store.get_usage("tenant:contoso", TODAY_OF(clock)) == (1000, pytest.approx(1.4))
    assert captured_telemetry.total("agentops.cache.lookups", outcome="own") == 1
    assert captured_telemetry.total("agentops.cache.lookups", outcome="hit") == 0
    assert captured_telemetry.points("agentops.cache.saved_cost") == []


async def test_a_deferred_cache_write_hands_the_entry_to_the_caller(store, clock):
    gateway = make_gateway(store, clock, Endpoint())
    answer = await gateway.call(make_request(), item_key="run-1:0", defer_cache_write=True)
    assert answer.cache_entry is not None and answer.cache_entry.ttl_s == 300
    assert answer.cache_entry.value["producer"] == "run-1:0"
    assert await store.cache_get(answer.cache_entry.key) is None  # the caller writes it
    # The process's own level has it already.
    assert (await gateway.call(make_request())).cached
