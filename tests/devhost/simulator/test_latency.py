"""Latency: drawn from the configured distribution, and never blocking the event loop."""

from __future__ import annotations

import asyncio
import random
import statistics
import time

import httpx
import pytest
from openai import AsyncOpenAI

from devhost.simulator.config import LatencyConfig
from devhost.simulator.latency import LatencySampler
from tests.devhost.simulator.conftest import user


def test_lognormal_hits_its_median_and_p99() -> None:
    sampler = LatencySampler(
        LatencyConfig(distribution="lognormal", ms=100, p99_ms=500), random.Random(1)
    )
    draws = sorted(sampler.first_token_s() for _ in range(20_000))
    assert statistics.median(draws) * 1000 == pytest.approx(100, rel=0.05)
    assert draws[int(0.99 * len(draws))] * 1000 == pytest.approx(500, rel=0.1)


def test_uniform_stays_in_bounds_and_fixed_is_fixed() -> None:
    uniform = LatencySampler(
        LatencyConfig(distribution="uniform", min_ms=10, max_ms=30), random.Random(1)
    )
    draws = [uniform.first_token_s() for _ in range(1000)]
    assert 0.010 <= min(draws) < 0.012 and 0.028 < max(draws) <= 0.030
    fixed = LatencySampler(LatencyConfig(ms=42), random.Random(1))
    assert {fixed.first_token_s() for _ in range(10)} == {0.042}


async def test_concurrent_requests_wait_together_not_in_turn(start_simulator) -> None:
    async with (
        start_simulator(latency={"ms": 300}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        started = time.monotonic()
        await asyncio.gather(
            *(client.chat.completions.create(model="m", messages=user(str(i))) for i in range(50))
        )
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5  # 50 in turn would take 15 s


async def test_per_token_delay_spreads_the_stream(start_simulator) -> None:
    async with (
        start_simulator(latency={"ms": 0, "per_token_ms": 20}) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        started = time.monotonic()
        stream = await client.chat.completions.create(
            model="m", messages=user("stream slowly please"), stream=True
        )
        arrivals = [time.monotonic() - started async for _ in stream]
    # about 12 content pieces at 20 ms each
    assert arrivals[-1] - arrivals[0] >= 0.2
    assert arrivals[1] < 0.2


async def test_a_stream_closed_early_is_counted_with_the_tokens_it_sent(start_simulator) -> None:
    async with (
        start_simulator(latency={"ms": 0, "per_token_ms": 20}, answer_tokens=100) as sim,
        AsyncOpenAI(base_url=sim.url, api_key="k", max_retries=0) as client,
    ):
        stream = await client.chat.completions.create(
            model="m", messages=user("cut me short"), stream=True
        )
        pieces = 0
        async for chunk in stream:
            pieces += bool(chunk.choices and chunk.choices[0].delta.content)
            if pieces == 4:
                break
        await stream.close()
        async with httpx.AsyncClient(base_url=sim.url.removesuffix("/v1")) as control:
            for _ in range(100):  # the server sees the close on its next write
                stats = (await control.get("/sim/stats")).json()
                if stats["streams_cut"]:
                    break
                await asyncio.sleep(0.02)
    assert stats["streams_cut"] == 1 and stats["in_flight"] == 0
    assert 4 <= stats["cut_tokens_sent"] < 100
