import asyncio

import pytest

from agentops.model.rate_limiter import RateLimiter, RateLimits, estimate_prompt_tokens
from agentops.model.types import ChatMessage, Usage

from .conftest import make_request


def test_prompt_estimate_is_chars_over_four_plus_framing():
    request = make_request(query="x" * 40, history=(ChatMessage("user", "y" * 8),))
    assert estimate_prompt_tokens(request) == 10 + 2 + 3 * 3


async def test_unlimited_deployment_never_waits(clock):
    limiter = RateLimiter({"other": RateLimits(rpm=1)}, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        (await limiter.acquire(make_request())).settle(Usage(10, 10))
    assert clock.sleeps == []


async def run_minute(limiter, clock, request, usage, n):
    """n concurrent callers each making calls until the virtual clock passes 60 s."""
    starts: list[tuple[float, int]] = []

    async def worker() -> None:
        while clock.t < 1060.0:
            reservation = await limiter.acquire(request)
            if clock.t >= 1060.0:
                reservation.cancel()
                return
            starts.append((clock.t, reservation.tokens))
            await clock.sleep(0.05)  # the call's latency
            reservation.settle(usage)

    await asyncio.gather(*(worker() for _ in range(n)))
    return starts


@pytest.mark.parametrize("window_s", [60.0, 10.0])
async def test_requests_per_minute_stay_within_quota(clock, window_s):
    limiter = RateLimiter(
        {"gpt-4o-mini": RateLimits(rpm=600, window_s=window_s)}, clock=clock, sleep=clock.sleep
    )
    starts = await run_minute(limiter, clock, make_request(), Usage(5, 5), n=20)
    # A bucket starts full (window's worth), then refills at 10/s: the quota over the minute.
    allowed = 600 * window_s / 60 + 600
    assert allowed - 20 <= len(starts) <= allowed
    # Over any sliding window, no more than the bucket plus its refill.
    times = [t for t, _ in starts]
    for i, t in enumerate(times):
        inside = sum(1 for u in times[i:] if u < t + window_s)
        assert inside <= 600 * window_s / 60 * 2 + 1


async def test_tokens_per_minute_corrected_by_real_usage(clock):
    request = make_request(query="q" * 400, max_output_tokens=200)  # estimate 100+6 + 200
    estimate = estimate_prompt_tokens(request) + 200
    limits = RateLimits(tpm=30_000, refund_unused_output=True)
    limiter = RateLimiter({"gpt-4o-mini": limits}, clock=clock, sleep=clock.sleep)
    starts = await run_minute(limiter, clock, request, Usage(106, 44), n=10)
    # Refunded to 150 tokens per call: twice the calls a 306-token reservation would allow.
    assert len(starts) == pytest.approx(60_000 / 150, rel=0.02)
    assert len(starts) > 1.8 * 60_000 / estimate

    clock.t = 1000.0
    strict = RateLimiter(
        {"gpt-4o-mini": RateLimits(tpm=30_000)}, clock=clock, sleep=clock.sleep
    )  # Azure counts max_tokens: unused output is not refunded
    starts = await run_minute(strict, clock, request, Usage(106, 44), n=10)
    assert len(starts) == pytest.approx(60_000 / estimate, rel=0.02)


async def test_larger_prompt_than_estimated_is_charged(clock):
    limiter = RateLimiter({"gpt-4o-mini": RateLimits(tpm=600)}, clock=clock, sleep=clock.sleep)
    request = make_request(query="q" * 40, max_output_tokens=10)  # estimate 10 + 6 + 10 = 26
    first = await limiter.acquire(request)
    first.settle(Usage(300, 10))  # the model counted far more: 310 tokens used
    bucket = limiter.for_deployment("gpt-4o-mini")._tokens
    assert bucket.level == pytest.approx(600 - 310)


async def test_waiters_are_served_in_arrival_order(clock):
    limiter = RateLimiter({"gpt-4o-mini": RateLimits(tpm=600)}, clock=clock, sleep=clock.sleep)
    big = make_request(query="q" * 1600, max_output_tokens=100)  # ~506 tokens
    small = make_request(query="q", max_output_tokens=1)
    order: list[str] = []

    async def take(name, request):
        await limiter.acquire(request)
        order.append(name)

    await limiter.acquire(big)  # drains the bucket
    await asyncio.gather(take("big", big), take("small-1", small), take("small-2", small))
    assert order == ["big", "small-1", "small-2"]  # the small ones do not jump the queue


async def test_cancelled_waiter_hands_its_turn_on(clock):
    limiter = RateLimiter({"gpt-4o-mini": RateLimits(rpm=60)}, clock=clock, sleep=clock.sleep)
    request = make_request()
    for _ in range(60):
        await limiter.acquire(request)
    gate = asyncio.Event()

    async def blocked_sleep(seconds: float) -> None:
        await gate.wait()
        await clock.sleep(seconds)

    limiter.for_deployment("gpt-4o-mini")._sleep = blocked_sleep
    head = asyncio.create_task(limiter.acquire(request))
    second = asyncio.create_task(limiter.acquire(request))
    await asyncio.sleep(0)
    head.cancel()
    gate.set()
    reservation = await asyncio.wait_for(second, 1.0)
    assert reservation.tokens > 0
    assert not limiter.for_deployment("gpt-4o-mini")._waiters


async def test_cancel_returns_request_and_tokens(clock):
    limiter = RateLimiter(
        {"gpt-4o-mini": RateLimits(rpm=2, tpm=1000)}, clock=clock, sleep=clock.sleep
    )
    request = make_request()
    for _ in range(10):
        (await limiter.acquire(request)).cancel()
    assert clock.sleeps == []


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        RateLimits(rpm=0)
    with pytest.raises(ValueError):
        RateLimits(tpm=10, window_s=120)


async def test_a_snapshot_shows_what_is_taken_and_refilled_without_moving_the_buckets(clock):
    limits = RateLimits(rpm=60, tpm=6000, window_s=10.0)
    limiter = RateLimiter({"gpt-4o-mini": limits, "other": RateLimits(tpm=600)}, clock=clock)
    request = make_request(query="q" * 400, max_output_tokens=100)
    tokens = estimate_prompt_tokens(request) + 100
    await limiter.acquire(request)
    first, second = limiter.snapshot()
    assert (first.deployment, first.limits, first.waiters) == ("gpt-4o-mini", limits, 0)
    assert (first.requests.available, first.requests.capacity) == (9.0, 10.0)
    assert (first.tokens.available, first.tokens.capacity) == (1000.0 - tokens, 1000.0)
    assert second.deployment == "other" and second.requests is None
    clock.advance(1.0)  # refills one request and 100 tokens a second
    assert limiter.snapshot()[0].requests.available == 10.0
    assert limiter.snapshot()[0].tokens.available == 1100.0 - tokens
    assert limiter.snapshot()[0].tokens.available == 1100.0 - tokens  # reading moved nothing


async def test_a_snapshot_counts_the_callers_queued(clock):
    limiter = RateLimiter({"gpt-4o-mini": RateLimits(rpm=6, window_s=10.0)}, clock=clock)
    gate = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await gate.wait()
        await clock.sleep(seconds)

    deployment = limiter.for_deployment("gpt-4o-mini")
    deployment._sleep = sleep  # the head waits on the gate, so the queue can be looked at
    await limiter.acquire(make_request())  # the bucket held one request: now empty
    waiting = [asyncio.create_task(limiter.acquire(make_request())) for _ in range(3)]
    await asyncio.sleep(0)
    load = limiter.snapshot()[0]
    assert (load.waiters, load.requests.available, load.requests.capacity) == (3, 0.0, 1.0)
    gate.set()
    await asyncio.gather(*waiting)
    assert limiter.snapshot()[0].waiters == 0
