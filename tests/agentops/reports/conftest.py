"""A small fixed data set whose report figures are worked out by hand in the tests."""

from __future__ import annotations

import pytest

from agentops.reports import ComputeActivity, ItemUsage, load_price_book
from tests.agentops.reports.sample import DAY, GIB, at

# The store contract's fixtures: the report service's tests run on both adapters.
from tests.agentops.store.conftest import (  # noqa: F401
    _no_proxy_for_loopback,
    backend,
    clock,
    cosmos_server,
    store,
    store_factory,
)


@pytest.fixture(scope="session")
def prices():
    return load_price_book()


@pytest.fixture
def items() -> list[ItemUsage]:
    return [
        # gpt-4o-mini: (800 * 0.15 + 200 * 0.075 + 100 * 0.60) / 1e6 = 0.000195
        ItemUsage(at(1), "tenant-a", "calc", "gpt-4o-mini", 1000, 100, cached_tokens=200),
        # gpt-4o: (2000 * 2.50 + 500 * 10.00) / 1e6 = 0.01
        ItemUsage(at(2), "tenant-a", "summ", "gpt-4o", 2000, 500, recorded_cost=0.01),
        # a response-cache hit: no tokens, and what the call it replaced cost
        ItemUsage(at(3), "tenant-b", "calc", "gpt-4o-mini", cache_hit=True, saved_cost=0.0002),
        # a deployment the price table does not know: unpriced, never free
        ItemUsage(at(4), "tenant-b", "local", "llama-local", 300, 100),
        # the day before: not in this period
        ItemUsage(at(-1), "tenant-a", "summ", "gpt-4o", 9999, 9999),
    ]


@pytest.fixture
def previous_items() -> list[ItemUsage]:
    # gpt-4o: (1000 * 2.50 + 250 * 10.00) / 1e6 = 0.005
    return [ItemUsage(at(5, DAY.previous()), "tenant-a", "summ", "gpt-4o", 1000, 250)]


@pytest.fixture
def compute() -> ComputeActivity:
    # 2 GB instances, one always ready; 2 h of execution in a 24 h day, 10 GiB of blobs kept.
    return ComputeActivity(
        executions=10_000,
        execution_seconds=7_200,
        instance_memory_mb=2048,
        always_ready_instances=1,
        stored_bytes=10 * GIB,
    )
