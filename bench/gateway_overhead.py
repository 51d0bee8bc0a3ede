"""Overhead of the model gateway per call, in-process, with a model that answers at once.

Cache-miss path: cache lookup and store, budget check and record, rate limiter, circuit breaker,
pricing; every query distinct. Measured twice: with the store's work kept in process (the layer's
own cost) and on the real SQLite store (shared cache level and usage counters). Cache-hit path:
calls per second for a repeated query. The gateway's metrics cost a no-op call unless a meter
provider is installed: ``--metrics`` installs the OpenTelemetry SDK's, with an in-memory reader,
to show what recording them costs.

    .venv/bin/python bench/gateway_overhead.py [--calls 50000] [--metrics]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from agentops.model.breaker import BreakerRegistry
from agentops.model.budgets import BudgetLimit, Budgets
from agentops.model.cache import ResponseCache
from agentops.model.gateway import ModelGateway
from agentops.model.pricing import PriceTable
from agentops.model.rate_limiter import RateLimiter, RateLimits
from agentops.model.retry import RetryPolicy
from agentops.model.types import ModelAnswer, ModelRequest, Usage
from agentops.store.sqlite import SqliteStore

REQUEST = ModelRequest(
    tenant="contoso",
    agent="calculator",
    agent_version="3f2a9c",
    deployment="gpt-4o-mini",
    tools=("add", "multiply"),
    query="What is 17 times 23, plus 4?",
    max_output_tokens=256,
    cache_ttl_s=3600,
    sensitive=False,
)
ANSWER = ModelAnswer("395", Usage(120, 12), "gpt-4o-mini")


async def invoke(request: ModelRequest) -> ModelAnswer:
    return ANSWER


class InProcessUsage:
    """Usage counters in a dict: isolates the layer's own cost from the store's I/O."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, date], tuple[int, float]] = {}

    async def add_usage(self, scope: str, day: date, tokens: int, cost: float) -> tuple[int, float]:
        old = self.totals.get((scope, day), (0, 0.0))
        new = (old[0] + tokens, old[1] + cost)
        self.totals[(scope, day)] = new
        return new

    async def get_usage(self, scope: str, day: date) -> tuple[int, float]:
        return self.totals.get((scope, day), (0, 0.0))


def gateway(usage, shared) -> ModelGateway:
    prices = PriceTable()
    unlimited = BudgetLimit(tokens=10**15, cost=10.0**12)
    return ModelGateway(
        invoke,
        prices=prices,
        cache=ResponseCache(shared, max_entries=10_000),
        budgets=Budgets(usage, tenants={"contoso": unlimited}, agents={"calculator": unlimited}),
        # Limits the run never reaches: the limiter's bookkeeping runs, it never waits.
        limiter=RateLimiter({"gpt-4o-mini": RateLimits(rpm=10**9, tpm=10**12)}),
        breakers=BreakerRegistry(),
        policy=RetryPolicy(),
    )


async def miss_path(gw: ModelGateway, calls: int) -> list[float]:
    requests = [replace(REQUEST, query=f"{REQUEST.query} #{i}") for i in range(calls)]
    for request in requests[:500]:  # warm-up
        await gw.call(replace(request, query=request.query + " warm"))
    samples = []
    clock = time.perf_counter_ns
    for request in requests:
        start = clock()
        await gw.call(request)
        samples.append((clock() - start) / 1000.0)
    return samples


async def hit_rate(gw: ModelGateway, calls: int) -> float:
    await gw.call(REQUEST)
    start = time.perf_counter()
    for _ in range(calls):
        await gw.call(REQUEST)
    return calls / (time.perf_counter() - start)


def report(name: str, samples: list[float]) -> None:
    cuts = statistics.quantiles(samples, n=100)
    print(
        f"{name}: p50 {cuts[49]:.1f} us, p99 {cuts[98]:.1f} us, max {max(samples):.1f} us "
        f"over {len(samples)} calls"
    )


async def main(calls: int) -> None:
    report(
        "miss path, store work in process", await miss_path(gateway(InProcessUsage(), None), calls)
    )
    with tempfile.TemporaryDirectory() as folder:
        async with SqliteStore(Path(folder) / "bench.db") as store:
            sqlite_calls = min(calls, 5_000)
            report(
                "miss path, SQLite store      ",
                await miss_path(gateway(store, store), sqlite_calls),
            )
            rate = await hit_rate(gateway(store, store), calls)
    print(f"hit path (in-process LRU): {rate:,.0f} calls/s")


def install_meter_provider() -> None:
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--metrics", action="store_true", help="record metrics with the SDK")
    args = parser.parse_args()
    if args.metrics:
        install_meter_provider()
    asyncio.run(main(args.calls))
