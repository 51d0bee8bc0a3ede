from __future__ import annotations

from datetime import timedelta

import pytest

from agentops.reports import (
    AccessEvent,
    ChainCheck,
    ComplianceReport,
    ComplianceRules,
    build_compliance_report,
)
from tests.agentops.reports.sample import DAY, at

# Working hours in UTC are 08:00-18:00 on Monday to Friday; DAY is a Monday.
WORK = 10


def event(hours: float, principal: str = "u1", tenant: str = "t1", **fields) -> AccessEvent:
    return AccessEvent(at(hours), tenant, principal, fields.pop("action", "run.read"), **fields)


def report(events, *, chains=(), rules=None, **kwargs) -> ComplianceReport:
    return build_compliance_report(
        events, period=DAY, chains=chains, generated_at=DAY.end, rules=rules, **kwargs
    )


def names(result: ComplianceReport) -> list[str]:
    return [a.rule.name for a in result.anomalies]


def test_figures_match_the_hand_counted_ones():
    events = [
        event(WORK, "u1", sensitive_agent="triage"),
        event(WORK + 0.1, "u1", refusal="forbidden", status_code=403),
        event(WORK + 0.2, "u2", sensitive_agent="triage"),
        event(WORK + 0.3, "u3", tenant="t2", refusal="rate_limited", status_code=429),
        event(WORK + 0.4, "", tenant="t2", refusal="unauthenticated", client_ip="203.0.113.9"),
        event(WORK + 0.5, "u1", tenant="t2"),  # another tenant's u1 is another user
        event(-2, "u1"),  # the day before: not counted
    ]
    chains = [ChainCheck("t2", 40, first_broken_seq=17), ChainCheck("t1", 12)]
    result = report(events, chains=chains)

    assert result.total_accesses == 6
    assert result.unique_users == 4  # t1/u1, t1/u2, t2/u3, t2/u1; no user on the refused one
    assert result.sensitive_accesses == 2
    assert result.sensitive_by_agent == {"triage": 2}
    assert result.refusals == 3
    assert result.refusals_by_kind == {"forbidden": 1, "rate_limited": 1, "unauthenticated": 1}
    assert sum(result.accesses_by_hour) == 6
    assert result.accesses_by_hour[WORK] == 6
    tenants = {t.tenant_id: t for t in result.tenants}
    assert (tenants["t1"].accesses, tenants["t1"].unique_users, tenants["t1"].refusals) == (3, 2, 1)
    assert (tenants["t2"].accesses, tenants["t2"].unique_users, tenants["t2"].refusals) == (3, 2, 2)
    assert [c.tenant_id for c in result.chains] == ["t1", "t2"]
    assert result.chains[1].holds is False
    assert result.chains[1].first_broken_seq == 17
    assert result.chains_hold is False
    assert report(events, chains=chains[1:]).chains_hold is True
    assert result.anomalies == []


def test_user_far_above_their_own_baseline():
    baseline_period = DAY.previous()

    def on_day_before(n: int) -> list[AccessEvent]:
        return [
            AccessEvent(baseline_period.start + timedelta(hours=WORK, minutes=i), "t1", "u1", "x")
            for i in range(n)
        ]

    today = [event(WORK + i / 100) for i in range(24)]
    # 24 today against 4 the day before: 6 times the baseline rate, over the factor 3.
    result = report(today, baseline=on_day_before(4), baseline_period=baseline_period)
    (anomaly,) = [a for a in result.anomalies if a.rule.name == "above_baseline"]
    assert anomaly.rule.observed == pytest.approx(6.0)
    assert anomaly.principal == "u1"
    assert anomaly.count == 24

    quiet = report(today, baseline=on_day_before(12), baseline_period=baseline_period)  # x2
    assert "above_baseline" not in names(quiet)
    few = report(today[:19], baseline=on_day_before(1), baseline_period=baseline_period)
    assert "above_baseline" not in names(few)  # under the 20 accesses a rise must reach
    newcomer = report(today, baseline=[], baseline_period=baseline_period)
    assert "above_baseline" not in names(newcomer)


def test_default_baseline_is_the_four_periods_before():
    result = report([])
    assert result.baseline_period.start == DAY.start - 4 * (DAY.end - DAY.start)
    assert result.baseline_period.end == DAY.start


def test_access_outside_working_hours_in_the_configured_time_zone():
    # 17:30 UTC is 18:30 in Paris (UTC+1 in November): after hours there, not in UTC.
    evening = [event(17.5)]
    assert "outside_working_hours" not in names(report(evening))
    paris = report(evening, rules=ComplianceRules(timezone="Europe/Paris"))
    (anomaly,) = paris.anomalies
    assert anomaly.rule.name == "outside_working_hours"
    assert anomaly.rule.observed == 1
    assert "Europe/Paris" in anomaly.rule.description
    assert paris.accesses_by_hour[18] == 1  # counted by the local hour

    assert "outside_working_hours" in names(report([event(6)]))  # before 08:00
    saturday = AccessEvent(DAY.start + timedelta(days=5, hours=WORK), "t1", "u1", "run.read")
    saturday_period = DAY.shifted(timedelta(days=5))
    weekend = build_compliance_report(
        [saturday], period=saturday_period, chains=(), generated_at=saturday_period.end
    )
    assert names(weekend) == ["outside_working_hours"]


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        ComplianceRules(timezone="Mars/Olympus")


def test_bulk_reads_of_results():
    # Six reads of 100 results within the hour: 600, over 500.
    burst = [event(WORK + i / 10, records_read=100) for i in range(6)]
    (anomaly,) = [a for a in report(burst).anomalies if a.rule.name == "bulk_read"]
    assert anomaly.rule.observed == 600
    assert anomaly.count == 6

    spread = [event(WORK - 4 + i * 1.5, records_read=100) for i in range(6)]  # one per 90 min
    assert "bulk_read" not in names(report(spread))


def test_bursts_of_refusals():
    burst = [event(WORK + i / 120, refusal="forbidden") for i in range(10)]  # 30 s apart
    (anomaly,) = [a for a in report(burst).anomalies if a.rule.name == "refusal_burst"]
    assert anomaly.rule.observed == 10

    # Ten refusals a minute apart: at most six in any five minutes.
    slow = [event(WORK + i / 60, refusal="forbidden") for i in range(10)]
    assert "refusal_burst" not in names(report(slow))
    # Let-through requests are not refusals.
    assert "refusal_burst" not in names(report([event(WORK + i / 120) for i in range(10)]))


def test_refusals_without_a_user_are_grouped_by_client_address():
    burst = [
        event(WORK + i / 120, "", refusal="unauthenticated", client_ip="198.51.100.7")
        for i in range(10)
    ]
    (anomaly,) = report(burst).anomalies
    assert (anomaly.principal, anomaly.client_ip) == ("", "198.51.100.7")


def test_attempts_on_another_tenants_ids():
    attempt = [event(WORK, resource_tenant="t2", refusal="not_found")]
    (anomaly,) = report(attempt).anomalies
    assert anomaly.rule.name == "cross_tenant_attempt"
    assert anomaly.tenant_id == "t1"

    own = [event(WORK, resource_tenant="t1"), event(WORK)]
    assert report(own).anomalies == []

    # An admin's allowed read of another tenant's run is audited, not an attempt.
    allowed = [event(WORK + i / 60, resource_tenant="t2") for i in range(30)]
    assert report(allowed).anomalies == []


def test_report_round_trips_through_json():
    result = report([event(6, refusal="forbidden")], chains=[ChainCheck("t1", 3)])
    assert ComplianceReport.model_validate_json(result.model_dump_json()) == result
