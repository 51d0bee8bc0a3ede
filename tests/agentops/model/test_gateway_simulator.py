"""The gateway's rate limiter against the devhost model simulator enforcing the same quota.

Real time, scaled down: 1,200 requests per minute enforced over a 1 s window (a bucket of 20
refilling at 20 per second), so a run of a couple of seconds shows the steady state.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from agentops.agents.registry import AgentRegistry
from agentops.agents.runner import AgentRunner
from agentops.model.breaker import BreakerConfig, BreakerRegistry
from agentops.model.gateway import ModelGateway
from agentops.model.openai_client import ModelConnection
from agentops.model.pricing import PriceTable
from agentops.model.rate_limiter import RateLimiter, RateLimits
from agentops.model.retry import RetryPolicy
from agentops.model.types import TransientModelError
from devhost.simulator import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background

pytestmark = pytest.mark.slow

AGENTS = Path(__file__).resolve().parents[3] / "agents.yaml"
RPM, WINDOW_S, TPM = 1200, 1.0, 600_000
RUN_S, WORKERS = 1.5, 24


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig.model_validate(
        {
            "latency": {"ms": 20},
            "limits": {"gpt-4o-mini": {"rpm": RPM, "tpm": TPM, "window_s": WINDOW_S}},
        }
    )
    async with serve_in_background(config) as running:
        yield running


@pytest.fixture
async def runner(sim: RunningSimulator) -> AsyncIterator[AgentRunner]:
    connection = ModelConnection.openai_compatible(
        base_url=sim.url, api_key=SecretStr("local"), timeout_s=10.0
    )
    yield AgentRunner(AgentRegistry.from_yaml(AGENTS), connection)
    await connection.aclose()


async def run_for(gateway: ModelGateway, tag: str) -> tuple[int, float]:
    """WORKERS callers with distinct queries for RUN_S seconds; answered calls and elapsed."""
    registry = AgentRegistry.from_yaml(AGENTS)
    answered = 0
    counter = 0
    start = time.monotonic()

    async def worker() -> None:
        nonlocal answered, counter
        while time.monotonic() - start < RUN_S:
            counter += 1
            request = registry.request_for("summarizer", "contoso", f"{tag} text number {counter}")
            try:
                await gateway.call(request)
                answered += 1
            except TransientModelError:
                pass

    await asyncio.gather(*(worker() for _ in range(WORKERS)))
    return answered, time.monotonic() - start


async def status_counts(sim: RunningSimulator) -> dict[str, int]:
    async with httpx.AsyncClient() as client:
        stats = (await client.get(f"http://{sim.host}:{sim.port}/sim/stats")).json()
        await client.post(f"http://{sim.host}:{sim.port}/sim/reset")
    return stats["by_status"]


def make_gateway(runner: AgentRunner, limits: dict[str, RateLimits]) -> ModelGateway:
    return ModelGateway(
        runner.invoke,
        prices=PriceTable(),
        cache=None,
        budgets=None,
        limiter=RateLimiter(limits),
        # The unpaced run must show its 429s, not stop at the breaker.
        breakers=BreakerRegistry(BreakerConfig(failure_threshold=1_000_000)),
        policy=RetryPolicy(inline_retries=0),
    )


async def test_limiter_keeps_429s_near_zero_at_quota_throughput(sim, runner):
    await status_counts(sim)  # reset: the quota buckets start full

    # Configured a little under the quota, as in production: network jitter can bunch requests
    # that left the limiter evenly spaced.
    limits = RateLimits(rpm=int(RPM * 0.95), tpm=int(TPM * 0.95), window_s=WINDOW_S)
    paced = make_gateway(runner, {"gpt-4o-mini": limits})
    answered, elapsed = await run_for(paced, "paced")
    counts = await status_counts(sim)
    quota = RPM * WINDOW_S / 60 + RPM / 60 * elapsed  # a full bucket plus its refill
    # Bounds loose enough for a loaded machine (the throughput figure is bench/'s to measure):
    # near-zero 429s, and the limiter does not starve the caller far below the quota.
    assert counts.get("429", 0) <= 1 + 0.05 * answered, counts
    assert answered >= 0.6 * quota, (answered, quota)
    assert answered <= quota + 1

    unpaced = make_gateway(runner, {})
    await run_for(unpaced, "unpaced")
    flood = await status_counts(sim)
    assert flood.get("429", 0) > 20 * max(1, counts.get("429", 0)), flood
