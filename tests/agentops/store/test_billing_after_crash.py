"""An item's answer in the response cache, its outcome lost: the item is billed once, on both
adapters.

The crash window of issue 11: the answer was stored in the cache and the worker died before the
item's outcome was written. The item runs again in a new process (no local cache level) over the
same store. It must complete with the answer's tokens and cost, not as a cache hit that "saved"
them: the provider billed that call. Another item asking the same still gets a genuine hit.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentops.encryption.records import RecordSealer
from agentops.model.breaker import BreakerRegistry
from agentops.model.cache import ResponseCache
from agentops.model.gateway import ModelGateway
from agentops.model.pricing import Price, PriceTable
from agentops.model.rate_limiter import RateLimiter
from agentops.model.retry import RetryPolicy
from agentops.model.types import ChatMessage, ModelAnswer, ModelRequest, Usage
from agentops.runs.batch_service import BatchService
from agentops.runs.contracts import BatchWork
from agentops.store import ItemStatus
from tests.agentops.store.samples import make_run

PRICES = PriceTable({"gpt-4o-mini": Price(1.0, 2.0)})  # 1 + 2 per 1K tokens
SPENT = Usage(600, 400)
COST = 0.6 * 1.0 + 0.4 * 2.0


class Endpoint:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, request: ModelRequest) -> ModelAnswer:
        self.calls += 1
        return ModelAnswer(f"answer to {request.query}", SPENT, "gpt-4o-mini")


class Agents:
    """The one agent of these tests, as the registry would build its requests."""

    def get(self, name: str) -> object:
        raise KeyError(name)

    def request_for(
        self, agent_name: str, tenant: str, query: str, history: Sequence[ChatMessage] = ()
    ) -> ModelRequest:
        return ModelRequest(
            tenant=tenant,
            agent=agent_name,
            agent_version="v1",
            deployment="gpt-4o-mini",
            tools=(),
            query=query,
            max_output_tokens=100,
            cache_ttl_s=300,
            sensitive=False,
        )


def process(store, clock) -> tuple[ModelGateway, Endpoint]:
    """What one worker process builds: its own cache level, limiter and breakers."""
    endpoint = Endpoint()
    gateway = ModelGateway(
        endpoint,
        prices=PRICES,
        cache=ResponseCache(store, clock=lambda: clock().timestamp()),
        budgets=None,
        limiter=RateLimiter({}),
        breakers=BreakerRegistry(),
        policy=RetryPolicy(max_attempts=3),
    )
    return gateway, endpoint


async def test_the_item_that_wrote_the_entry_is_billed_for_it_and_nothing_is_saved(store, clock):
    run = make_run()
    await store.create_run(run)
    await store.add_items(run.run_id, ["the harbour at dawn", "The harbour  at dawn"])

    # Before the crash: item 0's answer is billed and its cache entry stored, its outcome not.
    before, before_endpoint = process(store, clock)
    request = Agents().request_for("calc", "acme", "the harbour at dawn")
    answered = await before.call(request, item_key=f"{run.run_id}:0", defer_cache_write=True)
    assert answered.cache_entry is not None and before_endpoint.calls == 1
    entry = answered.cache_entry
    await store.cache_put(entry.key, entry.value, entry.ttl_s)

    # After the restart: a new process runs the batch again, one item at a time.
    after, after_endpoint = process(store, clock)
    batches = BatchService(store, Agents(), after, max_attempts=3, sealer=RecordSealer(None))
    work = BatchWork(run_id=run.run_id, tenant="acme", agent="calc", indexes=[0, 1], concurrency=1)
    report = await batches.run(work)

    assert report.completed == 2 and after_endpoint.calls == 0
    own, other = await store.get_items(run.run_id, [0, 1])
    assert own.status is ItemStatus.COMPLETED and own.answer == answered.text
    assert (own.usage, own.cached, own.saved_cost) == (SPENT, False, 0.0)
    assert abs(own.cost - COST) < 1e-9
    # The other item asked the same: a real hit, which saved what item 0 paid.
    assert (other.usage, other.cached, other.cost) == (Usage(), True, 0.0)
    assert abs(other.saved_cost - COST) < 1e-9
    # The run's usage is the tokens the endpoint served, once.
    totals = await store.item_totals(run.run_id)
    assert totals.usage == SPENT and totals.cached == 1
    assert abs(totals.cost - COST) < 1e-9


async def test_a_batch_writes_each_answer_with_its_outcome_and_looks_up_once(store, clock):
    run = make_run()
    await store.create_run(run)
    queries = [f"question {n}" for n in range(5)]
    await store.add_items(run.run_id, queries)
    gateway, endpoint = process(store, clock)
    batches = BatchService(store, Agents(), gateway, max_attempts=3, sealer=RecordSealer(None))
    work = BatchWork(run_id=run.run_id, tenant="acme", agent="calc", indexes=list(range(5)))
    assert (await batches.run(work)).completed == 5
    assert endpoint.calls == 5

    # Each entry is in the store, naming the item it was produced for.
    cache = ResponseCache(store, clock=lambda: clock().timestamp())
    keys = [cache.key(Agents().request_for("calc", "acme", q)) for q in queries]
    stored = await store.cache_get_many([k for k in keys if k is not None])
    assert sorted(value["producer"] for value in stored.values()) == [
        f"{run.run_id}:{n}" for n in range(5)
    ]
