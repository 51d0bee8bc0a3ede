"""The compliance report's anomaly rules: each finding names the rule, threshold and figure.

A finding is about one actor: a user of a tenant, or, for requests with no user (refused before
authentication), the client address they came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentops.reports.figures import ReportModel, RuleCheck
from agentops.reports.inputs import AccessEvent, Period

Actor = tuple[str, str, str | None]  # tenant, principal, client address when there is no user


class ComplianceRules(BaseModel):
    """Thresholds of the anomaly rules; each one is quoted in the anomaly it raises."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "UTC"  # working hours are judged in this IANA time zone
    work_start_hour: int = Field(default=8, ge=0, le=23)
    work_end_hour: int = Field(default=18, ge=1, le=24)
    work_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday is 0
    baseline_factor: float = Field(default=3.0, gt=1)
    baseline_min_accesses: int = Field(default=20, ge=1)  # below this, a rise is noise
    min_off_hours_accesses: int = Field(default=1, ge=1)
    bulk_read_records: int = Field(default=500, ge=1)
    bulk_read_window_s: float = Field(default=3600, gt=0)
    refusal_burst: int = Field(default=10, ge=2)
    refusal_burst_window_s: float = Field(default=300, gt=0)
    min_cross_tenant_attempts: int = Field(default=1, ge=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone: {value}") from error
        return value

    @field_validator("work_days")
    @classmethod
    def _weekdays(cls, value: frozenset[int]) -> frozenset[int]:
        if not value <= set(range(7)):
            raise ValueError("work_days are 0 (Monday) to 6 (Sunday)")
        return value

    @model_validator(mode="after")
    def _hours_in_order(self) -> ComplianceRules:
        if self.work_start_hour >= self.work_end_hour:
            raise ValueError("working hours end after they start")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def in_working_hours(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        return (
            local.weekday() in self.work_days
            and self.work_start_hour <= local.hour < self.work_end_hour
        )


class Anomaly(ReportModel):
    rule: RuleCheck
    tenant_id: str
    principal: str  # empty when the request had no authenticated user
    client_ip: str | None
    count: int  # the events the finding covers
    first_at: datetime
    last_at: datetime


def actor_of(event: AccessEvent) -> Actor:
    return (event.tenant_id, event.principal, None if event.principal else event.client_ip)


def _anomaly(rule: RuleCheck, actor: Actor, events: Sequence[AccessEvent]) -> Anomaly:
    return Anomaly(
        rule=rule,
        tenant_id=actor[0],
        principal=actor[1],
        client_ip=actor[2],
        count=len(events),
        first_at=min(e.at for e in events),
        last_at=max(e.at for e in events),
    )


def _by_actor(events: Iterable[AccessEvent]) -> dict[Actor, list[AccessEvent]]:
    grouped: dict[Actor, list[AccessEvent]] = defaultdict(list)
    for event in events:
        grouped[actor_of(event)].append(event)
    return grouped


def _busiest_window(
    events: Sequence[AccessEvent], window: timedelta, weight: str | None = None
) -> tuple[int, list[AccessEvent]]:
    """The largest total (of `weight`, or of events) inside any window of this length."""
    ordered = sorted(events, key=lambda e: e.at)
    best, best_span = 0, (0, 0)
    total, start = 0, 0
    for end, event in enumerate(ordered):
        total += getattr(event, weight) if weight else 1
        while event.at - ordered[start].at > window:
            total -= getattr(ordered[start], weight) if weight else 1
            start += 1
        if total > best:
            best, best_span = total, (start, end + 1)
    return best, ordered[best_span[0] : best_span[1]]


def above_baseline(
    rules: ComplianceRules,
    events: Sequence[AccessEvent],
    period: Period,
    baseline: Sequence[AccessEvent],
    baseline_period: Period,
) -> list[Anomaly]:
    """A user whose daily accesses are far above their own daily rate in the baseline period."""
    before = _by_actor(e for e in baseline if baseline_period.contains(e.at))
    found = []
    for actor, mine in _by_actor(events).items():
        usual = before.get(actor)
        if not usual or len(mine) < rules.baseline_min_accesses:
            continue  # no baseline of their own yet, or too few accesses to matter
        ratio = (len(mine) / period.days) / (len(usual) / baseline_period.days)
        if ratio > rules.baseline_factor:
            rule = RuleCheck(
                name="above_baseline",
                description="daily accesses as a multiple of the user's own baseline rate",
                comparison=">",
                threshold=rules.baseline_factor,
                observed=ratio,
            )
            found.append(_anomaly(rule, actor, mine))
    return found


def off_hours(rules: ComplianceRules, events: Sequence[AccessEvent]) -> list[Anomaly]:
    found = []
    for actor, mine in _by_actor(e for e in events if not rules.in_working_hours(e.at)).items():
        if len(mine) >= rules.min_off_hours_accesses:
            rule = RuleCheck(
                name="outside_working_hours",
                description=(
                    f"accesses outside {rules.work_start_hour}:00-{rules.work_end_hour}:00 "
                    f"on working days, {rules.timezone}"
                ),
                comparison=">=",
                threshold=rules.min_off_hours_accesses,
                observed=len(mine),
            )
            found.append(_anomaly(rule, actor, mine))
    return found


def bulk_reads(rules: ComplianceRules, events: Sequence[AccessEvent]) -> list[Anomaly]:
    window = timedelta(seconds=rules.bulk_read_window_s)
    found = []
    for actor, mine in _by_actor(e for e in events if e.records_read).items():
        records, burst = _busiest_window(mine, window, weight="records_read")
        if records >= rules.bulk_read_records:
            rule = RuleCheck(
                name="bulk_read",
                description=f"results read by one user within {rules.bulk_read_window_s:g} s",
                comparison=">=",
                threshold=rules.bulk_read_records,
                observed=records,
            )
            found.append(_anomaly(rule, actor, burst))
    return found


def refusal_bursts(rules: ComplianceRules, events: Sequence[AccessEvent]) -> list[Anomaly]:
    window = timedelta(seconds=rules.refusal_burst_window_s)
    found = []
    for actor, mine in _by_actor(e for e in events if e.refusal is not None).items():
        refusals, burst = _busiest_window(mine, window)
        if refusals >= rules.refusal_burst:
            rule = RuleCheck(
                name="refusal_burst",
                description=f"refusals of one actor within {rules.refusal_burst_window_s:g} s",
                comparison=">=",
                threshold=rules.refusal_burst,
                observed=refusals,
            )
            found.append(_anomaly(rule, actor, burst))
    return found


def cross_tenant(rules: ComplianceRules, events: Sequence[AccessEvent]) -> list[Anomaly]:
    found = []
    # Refused ones only: an admin's reads of other tenants' runs are allowed, and audited with
    # the run's tenant, but are not attempts.
    refused = (e for e in events if e.cross_tenant and e.refusal is not None)
    for actor, mine in _by_actor(refused).items():
        if len(mine) >= rules.min_cross_tenant_attempts:
            rule = RuleCheck(
                name="cross_tenant_attempt",
                description="refused requests for resources that belong to another tenant",
                comparison=">=",
                threshold=rules.min_cross_tenant_attempts,
                observed=len(mine),
            )
            found.append(_anomaly(rule, actor, mine))
    return found
