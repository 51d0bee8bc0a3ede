"""The work of one run_agent_batch activity: answer a batch's pending items concurrently.

Each item is keyed by (run id, index) and moves from pending to a terminal state exactly once in
the store, so an activity that Durable re-executes (at-least-once) skips what is already done and
never bills an item twice. Model errors never escape: they become the item's outcome or a request
to retry later, reported back to the orchestrator.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry import trace

from agentops import tracing
from agentops.encryption.records import RecordSealer
from agentops.logging_safety import loggable_query, redact
from agentops.model.gateway import model_calls_of
from agentops.model.types import (
    BudgetExceededError,
    ModelAnswer,
    ModelError,
    ModelRequest,
    PermanentModelError,
    TransientModelError,
)
from agentops.runs import item_metrics
from agentops.runs.contracts import BatchReport, BatchWork, FinalizeWork
from agentops.runs.ports import AgentLookup, ModelCaller, RunStore
from agentops.store.records import NO_USAGE, Item, ItemError, ItemOutcome, Run, RunStatus

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


@dataclass(frozen=True, slots=True)
class _ItemResult:
    status: str  # completed | failed | retry | deferred | stopped
    retry_after_s: float = 0.0
    reason: str | None = None


class _Slot:
    """One of an activity's places for a model call (``BatchWork.concurrency`` of them), taken
    when an item starts and given back as soon as its model call ends, rather than once its
    outcome is stored: that write waits its turn for the store (with SQLite, for the file's
    write lock, shared by every worker process: about 10 ms at 64 items in flight), and the
    next item's call need not wait with it. The activity still returns only once every outcome
    is written, so a crash loses no more than before."""

    def __init__(self, places: asyncio.Semaphore) -> None:
        self._places = places
        self._held = False

    async def __aenter__(self) -> _Slot:
        await self._places.acquire()
        self._held = True
        return self

    async def __aexit__(self, *_: object) -> None:
        self.release()

    def release(self) -> None:
        if self._held:
            self._held = False
            self._places.release()


class BatchService:
    def __init__(
        self,
        store: RunStore,
        agents: AgentLookup,
        model: ModelCaller,
        *,
        max_attempts: int,
        sealer: RecordSealer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock  # times each item's model call, kept on its outcome
        self._store = store
        self._agents = agents
        self._model = model
        self._max_attempts = max_attempts
        self._sealer = sealer

    async def run(self, work: BatchWork) -> BatchReport:
        run = await self._store.get_run(work.run_id)
        if run is None or run.tenant_id != work.tenant:
            raise LookupError(f"run {work.run_id} of tenant {work.tenant} does not exist")
        items = await self._store.get_items(work.run_id, work.indexes)
        if len(items) != len(set(work.indexes)):
            raise LookupError(f"run {work.run_id}: some of items {work.indexes} do not exist")
        already = [item for item in items if item.status != "pending"]
        todo = [item for item in items if item.status == "pending"]
        requests = {
            item.index: self._request(work, run, item)
            for item in todo
            if item.attempts < self._max_attempts
        }
        # The batch's cache entries in one store round trip, rather than one per item.
        await self._model.prefetch(list(requests.values()))
        limit = asyncio.Semaphore(work.concurrency or max(1, len(todo)))

        async def answer(item: Item) -> _ItemResult:
            async with _Slot(limit) as slot:
                # The model and tool spans of Agent Framework are this span's children.
                attributes = {
                    tracing.RUN_ID: work.run_id,
                    tracing.ITEM_INDEX: item.index,
                    tracing.ITEM_ATTEMPT: item.attempts + 1,
                }
                with tracing.span(tracer, "run item", attributes=attributes) as span:
                    result = await self._answer(work, run, item, requests.get(item.index), slot)
                    span.set_attribute(tracing.OUTCOME, result.status)
                    return result

        results = await asyncio.gather(*(answer(item) for item in todo))
        completed = sum(1 for item in already if item.status == "completed")
        failed = sum(1 for item in already if item.status == "failed")
        retry: list[int] = []
        deferred: list[int] = []
        retry_after = 0.0
        stopped: str | None = None
        for item, result in zip(todo, results, strict=True):
            match result.status:
                case "completed":
                    completed += 1
                case "failed":
                    failed += 1
                case "retry":
                    retry.append(item.index)
                    retry_after = max(retry_after, result.retry_after_s)
                case "deferred":
                    deferred.append(item.index)
                    retry_after = max(retry_after, result.retry_after_s)
                case "stopped":
                    stopped = stopped or result.reason
        return BatchReport(
            completed=completed,
            failed=failed,
            retry=retry,
            deferred=deferred,
            retry_after_s=retry_after,
            stopped=stopped,
        )

    def _request(self, work: BatchWork, run: Run, item: Item) -> ModelRequest:
        if run.encrypted:  # the query is opened in memory only, for the model call
            item = self._sealer.open_item(run.tenant_id, item)
        query = loggable_query(item.query)
        logger.debug("run %s item %d: query %s", work.run_id, item.index, query)
        return self._agents.request_for(work.agent, work.tenant, item.query)

    async def _answer(
        self, work: BatchWork, run: Run, item: Item, request: ModelRequest | None, slot: _Slot
    ) -> _ItemResult:
        index = item.index
        if request is None:
            # Spent on an earlier execution whose report never reached the orchestrator.
            await self._fail(work, index, "transient", f"no attempts left ({item.attempts} made)")
            return _ItemResult("failed")
        started = self._clock()
        duration_ms: int | None = None
        try:
            # The answer's cache entry is written with the item's outcome (complete_item).
            try:
                answer: ModelAnswer = await self._model.call(
                    request,
                    attempts_used=item.attempts,
                    item_key=f"{work.run_id}:{index}",
                    defer_cache_write=True,
                )
            finally:
                slot.release()  # the outcome's write need not hold back the next item's call
                duration_ms = round((self._clock() - started) * 1000)
        except BudgetExceededError as error:
            item_metrics.item_deferred(work.agent, "budget")  # stays pending; the run stops
            return _ItemResult("stopped", reason=error.reason)
        except PermanentModelError as error:
            await self._fail(
                work, index, "permanent", error.reason, spent_by=error, duration_ms=duration_ms
            )
            return _ItemResult("failed")
        except TransientModelError as error:
            calls = model_calls_of(error)
            if calls == 0:  # failed fast (breaker open): deferred, not an attempt
                if index in work.last_chance:
                    await self._fail(work, index, "transient", f"{error.reason} (gave up waiting)")
                    return _ItemResult("failed")
                item_metrics.item_deferred(work.agent, item_metrics.deferral_reason(error))
                return _ItemResult("deferred", retry_after_s=error.retry_after_s or 0.0)
            spent = item.attempts + calls
            last = index in work.last_chance or spent >= self._max_attempts
            # complete_item counts the final call itself; record the ones before it.
            for _ in range(calls - 1 if last else calls):
                await self._store.record_attempt(
                    work.run_id, index, ItemError("transient", error.reason)
                )
            if last:  # the item's budget is spent, whatever layer spent it
                await self._fail(
                    work,
                    index,
                    "transient",
                    f"{error.reason} (after {spent} attempts)",
                    spent_by=error,
                    duration_ms=duration_ms,
                )
                return _ItemResult("failed")
            item_metrics.item_retried(work.agent, error)
            return _ItemResult("retry", retry_after_s=error.retry_after_s or 0.0)
        outcome = ItemOutcome.completed(
            answer.text,
            usage=answer.usage,
            cost=answer.cost,
            cached=answer.cached,
            model=answer.model,
            saved_cost=answer.saved_cost,
            duration_ms=duration_ms,
        )
        if run.encrypted:
            outcome = self._sealer.seal_outcome(
                run.agent, run.tenant_id, work.run_id, index, outcome
            )
        if await self._store.complete_item(work.run_id, index, outcome, answer.cache_entry):
            item_metrics.item_completed(work.agent, request.deployment)
        return _ItemResult("completed")

    async def _fail(
        self,
        work: BatchWork,
        index: int,
        kind: str,
        reason: str,
        *,
        spent_by: ModelError | None = None,
        duration_ms: int | None = None,
    ) -> None:
        """Fail the item; what the failing calls spent (a tool loop cut short) is its bill."""
        logger.info("run %s item %d failed (%s): %s", work.run_id, index, kind, redact(reason))
        spent = spent_by.usage if spent_by else NO_USAGE
        deployment = self._deployment(work.agent)
        outcome = ItemOutcome.failed(
            ItemError(kind, reason),
            usage=spent,
            cost=spent_by.cost if spent_by else 0.0,
            # What the failing calls spent is the deployment's: the run's cost by model shows it.
            model=deployment if spent.total_tokens else None,
            duration_ms=duration_ms,
        )
        if await self._store.complete_item(work.run_id, index, outcome):
            item_metrics.item_failed(work.agent, deployment, kind)

    async def finalize(self, work: FinalizeWork) -> None:
        """Write the run's terminal status with its totals, computed from the items themselves."""
        run = await self._store.get_run(work.run_id)
        if run is None:
            raise LookupError(f"run {work.run_id} does not exist")
        if run.status in (RunStatus.CANCELED, RunStatus.FAILED):
            return  # canceled by a caller, or failed to start: that status stands
        totals = await self._store.item_totals(work.run_id)
        await self._store.update_run(
            work.run_id,
            status=work.status,
            counts=totals.counts,
            usage=totals.usage,
            cost=totals.cost,
            finished_at=datetime.now(UTC),
        )
        if run.status != work.status:  # not a re-executed finalize
            item_metrics.run_finished(run.agent, work.status)
        logger.info(
            "run %s %s: %d completed, %d failed%s",
            work.run_id,
            work.status,
            totals.counts.completed,
            totals.counts.failed,
            f" ({work.reason})" if work.reason else "",
        )

    def _deployment(self, agent: str) -> str:
        """The agent's deployment, for a metric; an agent no longer declared has none."""
        try:
            return str(self._agents.get(agent).deployment)
        except KeyError:
            return "unknown"
