"""Starting, reading and canceling batch runs: what the HTTP edge asks of the domain."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from agentops import tracing
from agentops.auth import ADMIN_ROLE, Principal
from agentops.encryption.records import RecordSealer
from agentops.log_context import log_context
from agentops.model.pricing import PriceTable
from agentops.model.rate_limiter import estimate_prompt_tokens
from agentops.runs.contracts import RunSpec, chunk_instance_id
from agentops.runs.errors import (
    BatchModeRefusedError,
    InvalidContinuationError,
    RunConflictError,
    UnknownRunError,
)
from agentops.runs.item_metrics import run_finished
from agentops.runs.ports import AgentLookup, BudgetGate, RunStore
from agentops.runs.requests import RunRequest
from agentops.runs.reused_aggregates import ReusedAggregates
from agentops.settings import Settings
from agentops.store.checks import decode_cursor, encode_cursor
from agentops.store.records import Item, ItemTotals, Run, RunStats, RunStatus

logger = logging.getLogger(__name__)

TERMINAL_RUN_STATUSES = frozenset(
    {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELED, RunStatus.STOPPED}
)
# How a durable runtime status reads while the store still says the run is under way.
_RUNTIME_TO_RUN_STATUS = {
    "Pending": RunStatus.PENDING,
    "Running": RunStatus.RUNNING,
    "ContinuedAsNew": RunStatus.RUNNING,
    "Suspended": RunStatus.RUNNING,
    "Failed": RunStatus.FAILED,
    "Terminated": RunStatus.CANCELED,
}
# How long the totals of a run under way are reused by the views that read it: at least
# TOTALS_REUSE_S, and TOTALS_REUSE_FACTOR times as long as reading them took. Each is an aggregate
# over every item of the run: callers polling a 10,000-item run every 50 ms would otherwise have
# the instance scan the run twenty times a second; this way it spends at most about 2% of its time
# on one polled run's totals. A finished run's totals are always read afresh.
TOTALS_REUSE_S = 0.5
TOTALS_REUSE_FACTOR = 50
_MAX_TOTALS_KEPT = 256


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """A run as its owner reads it: the record, its live status and one page of items."""

    run: Run
    status: RunStatus
    runtime_status: str | None
    progress: Any
    totals: ItemTotals
    items: list[Item]
    next_after: int | None
    # A batch-mode run: what the same tokens would have cost through the interactive path.
    interactive_cost: float | None = None
    # Item latency, retries and spend by model: on one run's view, not on listings.
    stats: RunStats | None = None

    @property
    def mode(self) -> str:
        return str(self.run.options.get("mode", "interactive"))


@dataclass(frozen=True, slots=True)
class RunListing:
    """One page of runs as their owners (or an admin) list them, with live totals."""

    runs: list[RunSnapshot]
    continuation: str | None


@dataclass(frozen=True, slots=True)
class RunCancellation:
    """A run just marked canceled, and the orchestration instances the caller must stop."""

    run: Run
    instances: list[str]


class RunService:
    def __init__(
        self,
        store: RunStore,
        agents: AgentLookup,
        budgets: BudgetGate,
        settings: Settings,
        *,
        sealer: RecordSealer,
        clock: Callable[[], float] = time.monotonic,
        prices: PriceTable | None = None,
    ) -> None:
        self._prices = prices
        self._store = store
        self._sealer = sealer
        self._agents = agents
        self._budgets = budgets
        self._settings = settings
        self._clock = clock
        self._totals: ReusedAggregates[ItemTotals] = self._reused()
        self._stats: ReusedAggregates[RunStats] = self._reused()

    def _reused[T](self) -> ReusedAggregates[T]:
        """An aggregate over a run's items, reused a while for a run under way."""
        return ReusedAggregates(
            lambda: self._clock(),  # read at each use: tests step the service's clock
            reuse_s=TOTALS_REUSE_S,
            factor=TOTALS_REUSE_FACTOR,
            max_kept=_MAX_TOTALS_KEPT,
        )

    async def create(self, principal: Principal, agent: str, request: RunRequest) -> Run:
        """Store the run and its items; the caller then starts the orchestration.

        The budget is checked first, with what one item reserves (the same rule that stops a
        run mid-way), so a refused run leaves nothing behind. A sensitive agent's queries are
        stored sealed, and refused (EncryptionUnavailableError) when no keys are configured.
        """
        definition = self._agents.get(agent)
        if request.options.run_mode == "batch" and not definition.batch_allowed:
            raise BatchModeRefusedError(
                f"agent {agent} does not allow batch mode (batch_allowed in agents.yaml)"
            )
        sensitive = bool(definition.sensitive)
        if sensitive:
            self._sealer.require(agent)
        first = self._agents.request_for(agent, principal.tenant, request.queries[0])
        estimate = estimate_prompt_tokens(first) + first.max_output_tokens
        await self._budgets.check(principal.tenant, agent, estimated_tokens=estimate)
        options = request.options.model_dump(exclude_none=True)
        run_id = uuid.uuid4().hex
        run = Run(
            run_id=run_id,
            tenant_id=principal.tenant,
            principal=principal.id,
            agent=agent,
            total=len(request.queries),
            created_at=datetime.now(UTC),
            options=options,
            instance_id=run_id,  # the orchestration's instance id is the run id
            encrypted=sensitive,
            trace_id=tracing.trace_id(),  # the request's: the run's spans all join it
        )
        queries = request.queries
        if sensitive:
            queries = self._sealer.seal_queries(agent, run.tenant_id, run_id, queries)
        with log_context(run_id=run_id, agent=agent, tenant=principal.tenant):
            await self._store.create_run(run)
            await self._store.add_items(run.run_id, queries)
            logger.info("run %s created: agent=%s items=%d", run.run_id, agent, run.total)
        return run

    def spec_for(self, run: Run) -> dict[str, Any]:
        """The orchestration's input, with the current trace context (the request's) for the
        orchestrator to copy into each activity's input."""
        settings = self._settings
        options = run.options
        return RunSpec(
            run_id=run.run_id,
            tenant=run.tenant_id,
            agent=run.agent,
            start=0,
            end=run.total,
            batch_size=options.get("batch_size", settings.batch_size),
            max_in_flight=options.get("max_in_flight", settings.max_in_flight),
            item_concurrency=options.get("item_concurrency", settings.item_concurrency),
            chunk_size=settings.chunk_size,
            max_attempts=options.get("max_attempts", settings.max_attempts),
            mode=options.get("mode", "interactive"),
            fallback=options.get("fallback", False),
            retry_base_s=settings.retry_base_s,
            retry_max_s=settings.retry_max_s,
            trace=tracing.carrier(),
        ).model_dump()

    async def mark_failed(self, run_id: str, reason: str) -> None:
        await self._store.update_run(run_id, status=RunStatus.FAILED, finished_at=datetime.now(UTC))
        logger.warning("run %s failed before it started: %s", run_id, reason)

    async def _owned_run(self, principal: Principal, run_id: str) -> Run:
        """The run, if the caller may act on it: its own tenant's, or any tenant's for an admin
        (the rule the listing follows, so every run an admin is shown also opens)."""
        run = await self._store.get_run(run_id) if _plausible_id(run_id) else None
        # Another tenant's run reads as missing: its existence is not the caller's to learn.
        # Ids are not echoed: a pasted secret stays put.
        if run is None:
            raise UnknownRunError("no run with this id")
        if run.tenant_id != principal.tenant and not principal.has_role(ADMIN_ROLE):
            raise UnknownRunError("no run with this id", owner_tenant=run.tenant_id)
        return run

    async def view(
        self,
        principal: Principal,
        run_id: str,
        *,
        runtime_status: str | None,
        custom_status: Any,
        continuation: str | None,
        limit: int,
    ) -> RunSnapshot:
        run = await self._owned_run(principal, run_id)
        totals = await self._item_totals(run)
        stats = await self._item_stats(run)
        items, next_after = await self._store.list_items(
            run_id, after_index=_after_index(continuation), limit=limit
        )
        if run.encrypted:
            items = [self._sealer.open_item(run.tenant_id, item) for item in items]
        status = run.status
        if status not in TERMINAL_RUN_STATUSES and runtime_status:
            status = _RUNTIME_TO_RUN_STATUS.get(runtime_status, status)
        return RunSnapshot(
            run=run,
            status=status,
            runtime_status=runtime_status,
            progress=custom_status,
            totals=totals,
            items=items,
            next_after=next_after,
            interactive_cost=self._interactive_cost(run, totals),
            stats=stats,
        )

    def _interactive_cost(self, run: Run, totals: ItemTotals) -> float | None:
        if run.options.get("mode") != "batch" or self._prices is None:
            return None
        try:
            deployment = self._agents.get(run.agent).deployment
        except LookupError:  # an agent no longer declared: no price to compare with
            return None
        return self._prices.cost(totals.usage, deployment)

    async def _item_totals(self, run: Run) -> ItemTotals:
        """The run's totals; for a run under way, reused a while (``TOTALS_REUSE_S``)."""
        read = partial(self._store.item_totals, run.run_id)
        finished = run.status in TERMINAL_RUN_STATUSES
        return await self._totals.get(run.run_id, read, finished=finished)

    async def _item_stats(self, run: Run) -> RunStats:
        """The run's latency percentiles, retries and spend by model, reused a while for a run
        under way as its totals are."""
        read = partial(self._store.item_stats, run.run_id)
        return await self._stats.get(run.run_id, read, finished=run.status in TERMINAL_RUN_STATUSES)

    async def list(
        self,
        principal: Principal,
        *,
        limit: int,
        continuation: str | None = None,
        agent: str | None = None,
        status: str | None = None,
    ) -> RunListing:
        """The caller's tenant's runs, newest first; an admin's listing spans every tenant.

        Each run is totalled from its items (one single-partition aggregate per run on the
        page, run together): live progress for runs under way and cache savings for all, which
        the run record does not keep, without a durable status call per run.
        """
        tenant = None if principal.has_role(ADMIN_ROLE) else principal.tenant
        stored = RunStatus.PENDING if status == RunStatus.RUNNING else status
        page = await self._store.list_runs(
            tenant,
            limit=limit,
            continuation=_store_cursor(continuation),
            agent=agent,
            status=stored,
        )
        totals = await asyncio.gather(*(self._item_totals(run) for run in page.items))
        snapshots = [
            RunSnapshot(
                run=run,
                status=run.status if run.status in TERMINAL_RUN_STATUSES else RunStatus.RUNNING,
                runtime_status=None,
                progress=None,
                totals=run_totals,
                items=[],
                next_after=None,
            )
            for run, run_totals in zip(page.items, totals, strict=True)
        ]
        return RunListing(runs=snapshots, continuation=_listing_token(page.continuation))

    async def cancel(self, principal: Principal, run_id: str) -> RunCancellation:
        """Mark the run canceled; returns the orchestration instances the caller must stop."""
        run = await self._owned_run(principal, run_id)
        if run.status in TERMINAL_RUN_STATUSES:
            raise RunConflictError(
                f"run {run_id} is already {run.status}", owner_tenant=run.tenant_id
            )
        await self._store.update_run(
            run_id, status=RunStatus.CANCELED, finished_at=datetime.now(UTC)
        )
        run_finished(run.agent, RunStatus.CANCELED.value)
        chunks = math.ceil(run.total / self._settings.chunk_size) if run.total else 0
        children = [chunk_instance_id(run_id, n) for n in range(chunks)] if chunks > 1 else []
        return RunCancellation(run=run, instances=[run.instance_id or run_id, *children])


def _listing_token(cursor: str | None) -> str | None:
    """The store's keyset cursor (creation time, run id) as a token with a shape the API can
    describe: `20261206T172948123456-<run id>`."""
    if cursor is None:
        return None
    created, run_id = decode_cursor(cursor, 2)
    return f"{created.translate(_DIGITS_ONLY)}-{run_id}"


def _store_cursor(token: str | None) -> str | None:
    if token is None:
        return None
    d, run_id = token[:21], token[22:]
    if not (len(d) == 21 and d[8] == "T" and token[21:22] == "-" and run_id):
        raise InvalidContinuationError("continuation: not a token this API gave out")
    # The fixed-width form the store sorts by; an impossible date is still a position.
    created = f"{d[:4]}-{d[4:6]}-{d[6:8]}T{d[9:11]}:{d[11:13]}:{d[13:15]}.{d[15:]}Z"
    return encode_cursor(created, run_id)


_DIGITS_ONLY = str.maketrans("", "", "-:.Z")


def _after_index(continuation: str | None) -> int | None:
    if continuation is None:
        return None
    if not (continuation.isascii() and continuation.isdigit() and len(continuation) <= 12):
        raise InvalidContinuationError("continuation: not a token this API gave out")
    return int(continuation)


def _plausible_id(run_id: str) -> bool:
    return 0 < len(run_id) <= 64 and run_id.isascii() and run_id.isalnum()
