import asyncio

import pytest

from agentops.model.breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from agentops.model.types import CircuitOpenError

CONFIG = BreakerConfig(
    failure_threshold=3,
    failure_ratio=0.5,
    window_s=10.0,
    cool_down_s=30.0,
    half_open_probes=1,
    min_calls=3,
)


def trip(breaker: CircuitBreaker, failures: int = 3) -> None:
    for _ in range(failures):
        breaker.admit()
        breaker.on_failure()


def test_closed_open_half_open_closed(clock):
    seen = []
    breaker = CircuitBreaker(
        "gpt", CONFIG, clock=clock, on_transition=lambda n, a, b: seen.append((n, a, b))
    )
    trip(breaker)
    assert breaker.state is BreakerState.OPEN
    clock.advance(12.0)
    with pytest.raises(CircuitOpenError) as refused:
        breaker.admit()
    assert refused.value.retry_after_s == pytest.approx(18.0)
    clock.advance(18.0)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.admit()  # the probe
    with pytest.raises(CircuitOpenError):
        breaker.admit()  # only one probe at a time
    breaker.on_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.admit()
    assert seen == [
        ("gpt", BreakerState.CLOSED, BreakerState.OPEN),
        ("gpt", BreakerState.OPEN, BreakerState.HALF_OPEN),
        ("gpt", BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]
    assert breaker.transitions[(BreakerState.CLOSED, BreakerState.OPEN)] == 1


def test_half_open_failure_reopens_for_a_full_cool_down(clock):
    breaker = CircuitBreaker("gpt", CONFIG, clock=clock)
    trip(breaker)
    clock.advance(30.0)
    breaker.admit()
    breaker.on_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as refused:
        breaker.check()
    assert refused.value.retry_after_s == pytest.approx(30.0)


def test_permanent_errors_do_not_count(clock):
    breaker = CircuitBreaker("gpt", CONFIG, clock=clock)
    for _ in range(20):
        breaker.admit()
        breaker.on_neutral()
    assert breaker.state is BreakerState.CLOSED
    trip(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    trip(breaker, 1)
    assert breaker.state is BreakerState.OPEN


def test_neutral_outcome_frees_the_probe_without_closing(clock):
    breaker = CircuitBreaker("gpt", CONFIG, clock=clock)
    trip(breaker)
    clock.advance(30.0)
    breaker.admit()
    breaker.on_neutral()
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.admit()  # the slot is free again


def test_failures_outside_the_window_expire(clock):
    breaker = CircuitBreaker("gpt", CONFIG, clock=clock)
    trip(breaker, 2)
    clock.advance(11.0)
    trip(breaker, 2)
    assert breaker.state is BreakerState.CLOSED


def test_a_minority_of_failures_does_not_trip(clock):
    breaker = CircuitBreaker("gpt", CONFIG, clock=clock)
    for _ in range(10):
        for _ in range(3):
            breaker.admit()
            breaker.on_success()
        trip(breaker, 1)
    assert breaker.state is BreakerState.CLOSED


async def test_concurrent_calls_share_one_breaker(clock):
    registry = BreakerRegistry(CONFIG, clock=clock)
    calls = 0

    async def call() -> str:
        nonlocal calls
        breaker = registry.get("gpt")
        try:
            breaker.admit()
        except CircuitOpenError:
            return "refused"
        calls += 1
        await asyncio.sleep(0)
        breaker.on_failure()
        return "failed"

    outcomes = await asyncio.gather(*(call() for _ in range(50)))
    # All 50 were admitted before any failed (the yields interleave them); after that it is open.
    assert outcomes.count("failed") == calls
    assert registry.get("gpt").state is BreakerState.OPEN
    assert (await call()) == "refused"
    assert registry.get("other").state is BreakerState.CLOSED

    clock.advance(30.0)
    results = await asyncio.gather(*(probe(registry) for _ in range(10)))
    assert results.count("probe") == 1
    assert registry.get("gpt").state is BreakerState.CLOSED


async def probe(registry: BreakerRegistry) -> str:
    breaker = registry.get("gpt")
    try:
        breaker.admit()
    except CircuitOpenError:
        return "refused"
    await asyncio.sleep(0)
    breaker.on_success()
    return "probe"


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        BreakerConfig(failure_ratio=1.5)
    with pytest.raises(ValueError):
        BreakerConfig(cool_down_s=0)


def test_too_few_calls_do_not_open_the_breaker(clock):
    breaker = CircuitBreaker("gpt", BreakerConfig(failure_threshold=3, min_calls=10), clock=clock)
    trip(breaker, failures=9)
    assert breaker.state is BreakerState.CLOSED  # 9 of 9 failed, but 9 calls prove little
    trip(breaker, failures=1)
    assert breaker.state is BreakerState.OPEN
