"""The compliance report: who accessed what in a period, what was refused, whether every
tenant's audit chain holds, and the anomalies, each naming the rule that flagged it.

It reads access events (mapped from audit entries) and the results of verifying each tenant's
chain; it never sees a request's text, so none can reach the report.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime

from agentops.reports.anomalies import (
    Anomaly,
    ComplianceRules,
    above_baseline,
    bulk_reads,
    cross_tenant,
    off_hours,
    refusal_bursts,
)
from agentops.reports.figures import PeriodOut, ReportModel
from agentops.reports.inputs import AccessEvent, ChainCheck, Period

logger = logging.getLogger(__name__)


class ChainResult(ReportModel):
    tenant_id: str
    entries: int
    holds: bool
    first_broken_seq: int | None


class TenantAccess(ReportModel):
    tenant_id: str
    accesses: int
    unique_users: int
    sensitive_accesses: int
    refusals: int


class ComplianceReport(ReportModel):
    period: PeriodOut
    baseline_period: PeriodOut
    generated_at: datetime
    rules: ComplianceRules
    total_accesses: int
    unique_users: int
    sensitive_accesses: int
    sensitive_by_agent: dict[str, int]
    refusals: int
    refusals_by_kind: dict[str, int]
    accesses_by_hour: list[int]  # 24 counts, by hour of day in the rules' time zone
    tenants: list[TenantAccess]
    chains: list[ChainResult]
    chains_hold: bool
    anomalies: list[Anomaly]


def build_compliance_report(
    events: Iterable[AccessEvent],
    *,
    period: Period,
    chains: Iterable[ChainCheck],
    generated_at: datetime,
    baseline: Iterable[AccessEvent] = (),
    baseline_period: Period | None = None,
    rules: ComplianceRules | None = None,
) -> ComplianceReport:
    """The compliance report for `period`; events outside it are ignored.

    `baseline` holds the events of `baseline_period` (by default the four periods of the same
    length before this one), against which each user's own rate is compared.
    """
    rules = rules or ComplianceRules()
    if baseline_period is None:
        span = period.end - period.start
        baseline_period = Period(period.start - 4 * span, period.start)
    inside = [event for event in events if period.contains(event.at)]
    zone = rules.zone
    by_hour = [0] * 24
    for event in inside:
        by_hour[event.at.astimezone(zone).hour] += 1

    chain_results = [
        ChainResult(
            tenant_id=check.tenant_id,
            entries=check.entries,
            holds=check.holds,
            first_broken_seq=check.first_broken_seq,
        )
        for check in sorted(chains, key=lambda c: c.tenant_id)
    ]
    broken = [c.tenant_id for c in chain_results if not c.holds]
    if broken:
        logger.warning("compliance report: %d audit chains do not hold", len(broken))

    anomalies = [
        *above_baseline(rules, inside, period, list(baseline), baseline_period),
        *off_hours(rules, inside),
        *bulk_reads(rules, inside),
        *refusal_bursts(rules, inside),
        *cross_tenant(rules, inside),
    ]
    refusals = Counter(e.refusal for e in inside if e.refusal is not None)
    return ComplianceReport(
        period=PeriodOut.of(period),
        baseline_period=PeriodOut.of(baseline_period),
        generated_at=generated_at,
        rules=rules,
        total_accesses=len(inside),
        unique_users=len({(e.tenant_id, e.principal) for e in inside if e.principal}),
        sensitive_accesses=sum(1 for e in inside if e.sensitive_agent),
        sensitive_by_agent=dict(
            sorted(Counter(e.sensitive_agent for e in inside if e.sensitive_agent).items())
        ),
        refusals=refusals.total(),
        refusals_by_kind=dict(sorted(refusals.items())),
        accesses_by_hour=by_hour,
        tenants=_tenants(inside),
        chains=chain_results,
        chains_hold=not broken,
        anomalies=sorted(anomalies, key=lambda a: (a.rule.name, a.tenant_id, a.principal)),
    )


def _tenants(events: list[AccessEvent]) -> list[TenantAccess]:
    grouped: dict[str, list[AccessEvent]] = defaultdict(list)
    for event in events:
        grouped[event.tenant_id].append(event)
    return [
        TenantAccess(
            tenant_id=tenant,
            accesses=len(mine),
            unique_users=len({e.principal for e in mine if e.principal}),
            sensitive_accesses=sum(1 for e in mine if e.sensitive_agent),
            refusals=sum(1 for e in mine if e.refusal is not None),
        )
        for tenant, mine in sorted(grouped.items())
    ]
