"""Builds, stores and reads reports: the store's records in, the engines' reports out.

`build` reads a day's inputs from the store (paged, with the time range in each query), runs the
pure engines, writes the report as `<id>.json` and `<id>.html` to the `reports` blob container
and stores its record. A report's id is its kind and day, and a stored record means the report
is complete, so building it again returns the stored one: a timer fired twice, a retried
activity and an operator's command make one report.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from agentops.agents.registry import AgentRegistry
from agentops.audit import AuditTrail
from agentops.blobs import BlobNotFoundError, BlobStore
from agentops.maintenance_metrics import MaintenanceKind, maintenance_finished
from agentops.reports.anomalies import ComplianceRules
from agentops.reports.compliance import ComplianceReport, build_compliance_report
from agentops.reports.cost import build_cost_report
from agentops.reports.cost_models import CostReport
from agentops.reports.inputs import (
    AgentProfile,
    ChainCheck,
    ComputeActivity,
    ItemUsage,
    Period,
    access_event_from,
    item_usage_from,
)
from agentops.reports.periods import ReportWork, period_key
from agentops.reports.price_book import PriceBook
from agentops.store.checks import encode_cursor
from agentops.store.ports import Store
from agentops.store.records import AuditEntry, Item, Page, ReportRecord, Run

logger = logging.getLogger(__name__)

CONTAINER = "reports"
_KINDS: Mapping[str, MaintenanceKind] = {"cost": "report_cost", "compliance": "report_compliance"}
# Blob containers whose contents the storage estimate counts.
STORED_CONTAINERS = ("backups", CONTAINER)
# Baseline of the compliance report: the four days before the day reported.
BASELINE_PERIODS = 4
_PAGE = 500
ReportFormat = Literal["json", "html"]
CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}


@dataclass(frozen=True, slots=True)
class FlexPlan:
    """What the compute estimate needs to know of the app's plan and its batch size."""

    instance_memory_mb: int = 2048
    always_ready_instances: int = 0
    batch_size: int = 64  # items per activity when a run does not set its own


@dataclass(slots=True)
class _RunActivity:
    """One run's completions within one period."""

    run: Run
    items: int = 0
    last: datetime | None = None


@dataclass(slots=True)
class _PeriodActivity:
    period: Period
    runs: dict[str, _RunActivity] = field(default_factory=dict)
    requests: int = 0  # audited HTTP calls

    def add_item(self, run: Run, at: datetime) -> None:
        activity = self.runs.setdefault(run.run_id, _RunActivity(run))
        activity.items += 1
        activity.last = at if activity.last is None else max(activity.last, at)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReportService:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        agents: AgentRegistry,
        *,
        prices: PriceBook,
        plan: FlexPlan | None = None,
        compliance_rules: ComplianceRules | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._agents = agents
        self._prices = prices
        self._plan = plan or FlexPlan()
        self._compliance_rules = compliance_rules or ComplianceRules()
        self._clock = clock

    # -- reading ----------------------------------------------------------------------------
    async def get(self, report_id: str) -> ReportRecord | None:
        return await self._store.get_report(report_id)

    async def list(
        self, kind: str | None, *, limit: int = 50, after: str | None = None
    ) -> Page[ReportRecord]:
        """Newest first, from just after the report `after` (the last id of the page before);
        the page's continuation is the id of its last report when more follow."""
        token = None if after is None else encode_cursor(period_key(after), after)
        page = await self._store.list_reports(kind, limit=limit, continuation=token)
        return Page(page.items, page.items[-1].id if page.continuation else None)

    async def content(self, record: ReportRecord, fmt: ReportFormat) -> bytes:
        """The stored report in one format; BlobNotFoundError if its blob has gone."""
        name = record.blobs.get(fmt)
        if name is None:
            raise BlobNotFoundError(CONTAINER, f"{record.id}.{fmt}")
        return await self._blobs.get(CONTAINER, name)

    # -- building ---------------------------------------------------------------------------
    async def build(self, work: ReportWork) -> ReportRecord:
        """The report of `work`'s day, built and stored unless it already is."""
        try:
            record, built = await self._build(work)
        except Exception:
            maintenance_finished(_KINDS[work.kind], "failed")
            raise
        if built:
            maintenance_finished(_KINDS[work.kind], "completed")
        return record

    async def _build(self, work: ReportWork) -> tuple[ReportRecord, bool]:
        """The report and whether this call built it (False: it was already stored)."""
        existing = await self._store.get_report(work.report_id)
        if existing is not None:
            logger.info("report %s already exists", work.report_id)
            return existing, False
        if work.period.end > self._clock():
            raise ValueError(f"{work.day.isoformat()} has not ended yet (UTC): nothing to report")
        generated_at = self._clock()
        if work.kind == "cost":
            cost = await self._cost(work.period, generated_at)
            body, headline, page = cost.model_dump_json(indent=1), _cost_headline(cost), cost
        else:
            compliance = await self._compliance(work.period, generated_at)
            body, headline = compliance.model_dump_json(indent=1), _compliance_headline(compliance)
            page = compliance
        html = await asyncio.to_thread(_render, page)
        blobs = {"json": f"{work.report_id}.json", "html": f"{work.report_id}.html"}
        # Overwritten on a rebuild: only the record, written last, marks the report complete.
        await self._blobs.put(
            CONTAINER,
            blobs["json"],
            body.encode(),
            content_type=CONTENT_TYPES["json"],
            overwrite=True,
        )
        await self._blobs.put(
            CONTAINER,
            blobs["html"],
            html.encode(),
            content_type=CONTENT_TYPES["html"],
            overwrite=True,
        )
        record = ReportRecord(
            id=work.report_id,
            kind=work.kind,
            period_start=work.period.start,
            period_end=work.period.end,
            created_at=generated_at,
            headline=headline,
            blobs=blobs,
        )
        await self._store.put_report(record)
        logger.info("report %s stored", record.id)
        return record, True

    async def _cost(self, period: Period, generated_at: datetime) -> CostReport:
        before = period.previous()
        span = Period(before.start, period.end)
        activity = {p: _PeriodActivity(p) for p in (period, before)}
        rows: list[ItemUsage] = []
        runs: dict[str, Run | None] = {}
        orphans = 0
        async for item in _pages(self._store.list_completed_items, span):
            if item.run_id not in runs:
                runs[item.run_id] = await self._store.get_run(item.run_id)
            run = runs[item.run_id]
            row = None if run is None else item_usage_from(item, run, self._deployment(run, item))
            if run is None or row is None:
                orphans += 1
                continue
            rows.append(row)
            for p, found in activity.items():
                if p.contains(row.at):
                    found.add_item(run, row.at)
        if orphans:
            logger.warning("cost report: %d completed items have no run; left out", orphans)
        async for entry in _pages(self._store.list_audit_between, span):
            for p, found in activity.items():
                if p.contains(entry.at):
                    found.requests += 1
        stored = await self._stored_bytes()
        return build_cost_report(
            rows,
            period=period,
            prices=self._prices,
            generated_at=generated_at,
            previous_items=rows,  # the engine keeps each period's own rows
            compute=self._compute(activity[period], stored),
            previous_compute=self._compute(activity[before], stored),
            agents=self._profiles(),
        )

    async def _compliance(self, period: Period, generated_at: datetime) -> ComplianceReport:
        baseline = Period(
            period.start - BASELINE_PERIODS * (period.end - period.start), period.start
        )
        sensitive = {a.name for a in self._agents.list() if a.sensitive}
        events = [
            access_event_from(entry, sensitive)
            async for entry in _pages(
                self._store.list_audit_between, Period(baseline.start, period.end)
            )
        ]
        trail = AuditTrail(self._store)
        chains = []
        for tenant in await self._store.list_audit_tenants():
            check = await trail.verify(tenant)
            chains.append(ChainCheck(tenant, check.entries, None if check.ok else check.broken_seq))
        return build_compliance_report(
            events,
            period=period,
            chains=chains,
            generated_at=generated_at,
            baseline=events,  # the engine keeps the baseline period's own events
            baseline_period=baseline,
            rules=self._compliance_rules,
        )

    def _deployment(self, run: Run, item: Item) -> str:
        # The agent's deployment today; an agent no longer defined leaves the model it reported.
        if run.agent in self._agents:
            return self._agents.get(run.agent).deployment
        return item.model or f"unknown:{run.agent}"

    def _profiles(self) -> Mapping[str, AgentProfile]:
        profiles = {}
        for summary in self._agents.list():
            agent = self._agents.get(summary.name)
            profiles[agent.name] = AgentProfile(
                agent.name, agent.deployment, agent.cache_ttl_s, agent.sensitive
            )
        return profiles

    def _compute(self, activity: _PeriodActivity, stored_bytes: int) -> ComputeActivity:
        """An estimate of the app's Flex Consumption activity from what the store records.

        - Executions: every audited HTTP call, one orchestration per run with work in the period
          (replays not counted), and its activities: the items completed, in batches of the
          run's batch size. Timers and the maintenance activities are left out.
        - Execution time: the time during which at least one run had work in progress, from the
          later of its start and the period's start to its last completion in the period. Runs
          that overlap share one instance's time, so the time is their union, at concurrency 1.
          HTTP calls and maintenance are not timed and add nothing.
        - Storage: the bytes now in the backup and report containers, for both periods.
        """
        windows = []
        executions = activity.requests
        for found in activity.runs.values():
            batch = found.run.options.get("batch_size") or self._plan.batch_size
            executions += 1 + math.ceil(found.items / max(1, int(batch)))
            assert found.last is not None
            start = max(found.run.created_at, activity.period.start)
            if found.last > start:
                windows.append((start, found.last))
        return ComputeActivity(
            executions=executions,
            execution_seconds=_union_seconds(windows),
            instance_memory_mb=self._plan.instance_memory_mb,
            always_ready_instances=self._plan.always_ready_instances,
            stored_bytes=stored_bytes,
        )

    async def _stored_bytes(self) -> int:
        total = 0
        for container in STORED_CONTAINERS:
            try:
                async for info in self._blobs.list_blobs(container):
                    total += info.size
            except BlobNotFoundError:  # a container infrastructure has not made (yet)
                continue
        return total


def _render(report: CostReport | ComplianceReport) -> str:
    from agentops.reports.html import render_compliance_html, render_cost_html

    if isinstance(report, CostReport):
        return render_cost_html(report)
    return render_compliance_html(report)


def _union_seconds(windows: list[tuple[datetime, datetime]]) -> float:
    total = 0.0
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(windows):
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


async def _pages(fetch: Callable[..., Any], span: Period) -> AsyncIterator[Any]:
    """Every record a paged, period-bounded store read returns, one page in memory at a time."""
    token: str | None = None
    while True:
        page: Page[Item] | Page[AuditEntry] = await fetch(
            span.start, span.end, limit=_PAGE, continuation=token
        )
        for record in page.items:
            yield record
        token = page.continuation
        if token is None:
            return


def _cost_headline(report: CostReport) -> dict[str, Any]:
    totals = report.totals
    return {
        "currency": report.prices.currency,
        "items": totals.tokens.items,
        "totalTokens": totals.tokens.total_tokens,
        "cost": totals.cost,
        "pricedCost": totals.priced_cost,
        "unpricedDeployments": len(report.unpriced_deployments),
        "recommendations": len(report.recommendations),
    }


def _compliance_headline(report: ComplianceReport) -> dict[str, Any]:
    return {
        "totalAccesses": report.total_accesses,
        "uniqueUsers": report.unique_users,
        "refusals": report.refusals,
        "sensitiveAccesses": report.sensitive_accesses,
        "chainsHold": report.chains_hold,
        "anomalies": len(report.anomalies),
    }
