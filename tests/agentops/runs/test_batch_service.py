"""The batch activity's work against the real SQLite store and the model simulator on loopback:
idempotent items, billing once, permanent and transient failures, budgets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentops.agents.registry import AgentRegistry
from agentops.auth import LOCAL_PRINCIPAL
from agentops.bootstrap import Services, build_services
from agentops.model.rate_limiter import estimate_prompt_tokens
from agentops.model.types import BudgetExceededError, Usage
from agentops.runs.contracts import BatchWork, FinalizeWork
from agentops.runs.requests import RunRequest
from agentops.settings import Settings
from agentops.store.records import ItemStatus
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig()) as running:
        yield running


def _settings(tmp_path: Path, sim: RunningSimulator, **overrides: Any) -> Settings:
    return Settings(
        store="sqlite",
        sqlite_path=tmp_path / "agentops.db",
        model_endpoint=sim.url,
        max_attempts=3,
        inline_retry_max_wait_s=0,
        **overrides,
    )


@pytest.fixture
async def services(tmp_path: Path, sim: RunningSimulator) -> AsyncIterator[Services]:
    # A roomy tenant budget, so that the tenant's daily usage is counted.
    built = build_services(_settings(tmp_path, sim, tenant_budgets={"local": {"tokens": 10**9}}))
    yield built
    await built.aclose()


def _stats(sim: RunningSimulator) -> dict[str, Any]:
    return sim.app.state.simulator.stats.as_dict()


async def _new_run(services: Services, agent: str, queries: list[str]) -> str:
    run = await services.runs.create(LOCAL_PRINCIPAL, agent, RunRequest(queries=queries))
    return run.run_id


def _work(run_id: str, agent: str, indexes: list[int], **fields: Any) -> BatchWork:
    return BatchWork(run_id=run_id, tenant="local", agent=agent, indexes=indexes, **fields)


async def test_a_re_executed_batch_does_not_call_or_bill_again(
    services: Services, sim: RunningSimulator
) -> None:
    run_id = await _new_run(services, "summarizer", ["alpha text", "beta text", "gamma text"])
    first = await services.batches.run(_work(run_id, "summarizer", [0, 1, 2]))
    calls = _stats(sim)["requests"]
    totals = await services.store.item_totals(run_id)

    again = await services.batches.run(_work(run_id, "summarizer", [0, 1, 2]))

    assert first.completed == again.completed == 3
    assert _stats(sim)["requests"] == calls == 3
    assert await services.store.item_totals(run_id) == totals
    assert totals.usage.total_tokens > 0
    day = datetime.now(UTC).date()
    tokens, _ = await services.store.get_usage("tenant:local", day)
    assert tokens == totals.usage.total_tokens  # billed once, not twice


async def test_a_permanent_error_fails_the_item_with_its_reason(services: Services) -> None:
    run_id = await _new_run(services, "summarizer", ["fine", "bad [simulate-content-filter]"])
    report = await services.batches.run(_work(run_id, "summarizer", [0, 1]))
    assert (report.completed, report.failed, report.retry) == (1, 1, [])
    items = await services.store.get_items(run_id, [1])
    assert items[0].status is ItemStatus.FAILED
    assert items[0].model is None  # refused without spending: on no model's bill
    assert items[0].error is not None and items[0].error.kind == "permanent"
    assert "content" in items[0].error.message.lower()


async def test_a_failed_item_keeps_what_its_calls_spent_and_the_tenant_is_billed_once(
    services: Services,
) -> None:
    script = json.dumps({"name": "delete_everything", "arguments": {}})
    run_id = await _new_run(services, "summarizer", [f"go [simulate-tool-call {script}]"])
    report = await services.batches.run(_work(run_id, "summarizer", [0]))
    assert report.failed == 1
    (item,) = await services.store.get_items(run_id, [0])
    assert item.error is not None and "delete_everything" in item.error.message
    assert item.usage.total_tokens > 0  # the call was made and paid for: the item says so
    assert item.model == services.agents.get("summarizer").deployment  # and on which model
    tokens, _ = await services.store.get_usage("tenant:local", datetime.now(UTC).date())
    assert tokens == item.usage.total_tokens


async def test_transient_errors_come_back_until_the_item_budget_is_spent(
    services: Services, sim: RunningSimulator
) -> None:
    state = sim.app.state.simulator
    state.apply(SimulatorConfig.model_validate({"faults": {"rates": {"503": 1.0}}}))
    run_id = await _new_run(services, "summarizer", ["retry me"])

    first = await services.batches.run(_work(run_id, "summarizer", [0]))
    assert first.retry == [0] and first.completed == first.failed == 0
    second = await services.batches.run(_work(run_id, "summarizer", [0], attempt=2))
    assert second.retry == [0]
    third = await services.batches.run(_work(run_id, "summarizer", [0], attempt=3))
    assert third.failed == 1 and third.retry == []

    item = (await services.store.get_items(run_id, [0]))[0]
    assert item.status is ItemStatus.FAILED and item.attempts == 3
    assert _stats(sim)["requests"] == 3  # max_attempts model calls, no more


async def test_finalize_writes_totals_and_keeps_a_cancel(services: Services) -> None:
    run_id = await _new_run(services, "summarizer", ["one", "two"])
    await services.batches.run(_work(run_id, "summarizer", [0, 1]))
    await services.batches.finalize(FinalizeWork(run_id=run_id, status="completed"))
    run = await services.store.get_run(run_id)
    assert run is not None and run.status == "completed"
    assert run.counts.completed == 2 and run.usage.total_tokens > 0

    canceled = await _new_run(services, "summarizer", ["three"])
    await services.runs.cancel(LOCAL_PRINCIPAL, canceled)
    await services.batches.finalize(FinalizeWork(run_id=canceled, status="completed"))
    stored = await services.store.get_run(canceled)
    assert stored is not None and stored.status == "canceled"


async def test_a_budget_stops_a_run_mid_way_and_refuses_new_ones(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    # A call reserves its prompt estimate plus max output tokens: a budget of exactly one
    # reservation lets the first call start, and once its real usage counts, no second one.
    registry = AgentRegistry.from_yaml(Settings().agents_file)
    request = registry.request_for("summarizer", "local", "text one")
    reservation = estimate_prompt_tokens(request) + request.max_output_tokens
    settings = _settings(tmp_path, sim, tenant_budgets={"local": {"tokens": reservation}})
    services = build_services(settings)
    try:
        run_id = await _new_run(services, "summarizer", ["text one", "text two"])
        first = await services.batches.run(_work(run_id, "summarizer", [0]))
        assert first.completed == 1 and first.stopped is None
        second = await services.batches.run(_work(run_id, "summarizer", [1]))
        assert second.completed == 0 and second.stopped is not None
        assert "budget" in second.stopped
        pending = (await services.store.get_items(run_id, [1]))[0]
        assert pending.status is ItemStatus.PENDING and pending.attempts == 0

        await services.budgets.record("local", "summarizer", Usage(reservation, 0), 0.0)
        with pytest.raises(BudgetExceededError) as refused:
            await _new_run(services, "summarizer", ["refused before start"])
        assert refused.value.resets_at > datetime.now(UTC)
    finally:
        await services.aclose()


class _PeakCounter:
    """The real model path, counting how many calls are in flight at once."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.in_flight = self.peak = 0

    async def prefetch(self, requests: Any) -> None:
        await self._model.prefetch(requests)

    async def call(self, request: Any, **kwargs: Any) -> Any:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await self._model.call(request, **kwargs)
        finally:
            self.in_flight -= 1


async def test_a_batch_streams_its_items_through_its_own_window(services: Services) -> None:
    from agentops.runs.batch_service import BatchService

    counter = _PeakCounter(services.model)
    batches = BatchService(
        services.store, services.agents, counter, max_attempts=3, sealer=services.sealer
    )
    run_id = await _new_run(services, "summarizer", [f"window text {n}" for n in range(9)])
    report = await batches.run(_work(run_id, "summarizer", list(range(9)), concurrency=3))
    assert report.completed == 9
    assert counter.peak == 3


async def test_a_batch_costs_one_store_round_trip_per_item(
    tmp_path: Path, sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentops.store.sqlite.connection import SqliteConnection

    services = build_services(_settings(tmp_path, sim))  # no budgets: no usage counters
    trips: list[str] = []
    writes: list[str] = []
    call, write = SqliteConnection.call, SqliteConnection.write

    async def counted(self: SqliteConnection, fn: Any) -> Any:
        trips.append(getattr(fn, "__qualname__", "?"))
        return await call(self, fn)

    async def counted_write(self: SqliteConnection, fn: Any) -> Any:
        writes.append(getattr(fn, "__qualname__", "?"))
        return await write(self, fn)

    try:
        run_id = await _new_run(services, "summarizer", [f"trip text {n}" for n in range(16)])
        monkeypatch.setattr(SqliteConnection, "call", counted)
        monkeypatch.setattr(SqliteConnection, "write", counted_write)
        report = await services.batches.run(_work(run_id, "summarizer", list(range(16))))
        assert report.completed == 16
        # The run, its items, the batch's cache keys at once; then each outcome with its
        # answer's cache entry in one atomic write (the writes waiting together share a
        # transaction, see group_commit.py).
        assert len(trips) == 3, trips
        assert writes == ["SqliteConnection.modify.<locals>.op"] * 16, writes
    finally:
        await services.aclose()


class _CallStarts(_PeakCounter):
    """The real model path, noting when its second call starts."""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.calls = 0
        self.second_started = asyncio.Event()

    async def call(self, request: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == 2:
            self.second_started.set()
        return await super().call(request, **kwargs)


class _OutcomesAfter:
    """The real store, whose first outcome write waits for `event`, as a write waits its turn
    for the file's lock."""

    def __init__(self, store: Any, event: asyncio.Event) -> None:
        self._store, self._event = store, event
        self.waited = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def complete_item(self, *args: Any, **kwargs: Any) -> Any:
        if not self.waited:
            self.waited = True
            await asyncio.wait_for(self._event.wait(), timeout=5)
        return await self._store.complete_item(*args, **kwargs)


async def test_an_outcome_waiting_for_the_store_does_not_hold_back_the_next_call(
    services: Services,
) -> None:
    from agentops.runs.batch_service import BatchService

    model = _CallStarts(services.model)
    store = _OutcomesAfter(services.store, model.second_started)
    batches = BatchService(store, services.agents, model, max_attempts=3, sealer=services.sealer)
    run_id = await _new_run(services, "summarizer", [f"slot text {n}" for n in range(3)])

    report = await batches.run(_work(run_id, "summarizer", [0, 1, 2], concurrency=1))

    # The second call started while the first outcome waited; still one call at a time, and
    # every outcome is stored before the activity returns.
    assert report.completed == 3
    assert store.waited and model.peak == 1
    totals = await services.store.item_totals(run_id)
    assert totals.counts.completed == 3
