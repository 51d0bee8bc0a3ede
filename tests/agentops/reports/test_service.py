"""Reports built from the store: a small fixed data set, its figures worked out by hand.

Runs on SQLite and on the Cosmos DB adapter (the store contract's fixtures, see conftest), with
the local folder blob store.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from agentops.agents.definitions import AgentDefinition
from agentops.agents.registry import AgentRegistry
from agentops.audit import AuditEvent, AuditTrail
from agentops.blobs.local import LocalBlobStore
from agentops.bootstrap import compliance_rules
from agentops.reports import load_price_book
from agentops.reports.periods import ReportWork, report_work_for_previous_day
from agentops.reports.service import FlexPlan, ReportService
from agentops.settings import Settings
from agentops.store import ItemError, ItemOutcome, Run, Usage

DAY = date(2026, 11, 26)
D0 = datetime(2026, 11, 26, tzinfo=UTC)
AFTER = D0 + timedelta(days=1, minutes=15)  # when the timer builds the day's report


def _agent(name: str, deployment: str, **kw) -> AgentDefinition:
    return AgentDefinition(
        name=name, description=name, instructions="answer", deployment=deployment, **kw
    )


AGENTS = AgentRegistry(
    [
        _agent("calc", "gpt-4o-mini", cache_ttl_s=3600),
        _agent("summ", "gpt-4o"),
        _agent("local", "llama-local"),  # a deployment the price book does not know
        _agent("triage", "gpt-4o-mini", sensitive=True),
    ]
)


def _ok(prompt: int, completion: int) -> ItemOutcome:
    # The recorded cost is deliberately wrong: the report re-prices from the tokens.
    return ItemOutcome.completed("x", usage=Usage(prompt, completion), cost=9.0, model="m")


async def _run(store, clock, run_id, tenant, agent, created_hours, completions) -> None:
    created = D0 + timedelta(hours=created_hours)
    await store.create_run(Run(run_id, tenant, "u", agent, len(completions) + 1, created))
    await store.add_items(run_id, [f"q{i}" for i in range(len(completions) + 1)])  # last: pending
    for index, (hours, outcome) in enumerate(completions):
        clock.now = D0 + timedelta(hours=hours)
        assert await store.complete_item(run_id, index, outcome)


async def _fill(store, clock) -> None:
    failed = ItemOutcome.failed(ItemError("permanent", "no"), usage=Usage(100, 0))
    # acme/calc on gpt-4o-mini (0.15 in, 0.60 out per million):
    #   (1000*0.15 + 100*0.60)/1e6 = 0.00021; (2000*0.15 + 500*0.60)/1e6 = 0.0006;
    #   the failed item's 100 prompt tokens: 0.000015. Sum 0.000825.
    await _run(
        store, clock, "r1", "acme", "calc", 1, [(1 + 10 / 60, _ok(1000, 100)), (1.5, failed)]
    )
    await _run(store, clock, "r1b", "acme", "calc", 1.2, [(1 + 20 / 60, _ok(2000, 500))])
    # globex/summ on gpt-4o (2.50 in, 10.00 out): (1000*2.5 + 200*10)/1e6 = 0.0045
    await _run(store, clock, "r2", "globex", "summ", 2, [(2.5, _ok(1000, 200))])
    # globex/local on an unpriced deployment: 400 tokens, no cost.
    await _run(store, clock, "r3", "globex", "local", 3, [(3 + 10 / 60, _ok(300, 100))])
    # The day before (0.000105 on gpt-4o-mini) and the day after: not in the day's figures.
    await _run(store, clock, "r0", "acme", "calc", -14, [(-14 + 0.5, _ok(500, 50))])
    await _run(store, clock, "r9", "acme", "calc", 24.4, [(24.5, _ok(7000, 7000))])

    trail = AuditTrail(store)

    def event(tenant, who, action, hours, outcome="allowed", **details) -> AuditEvent:
        at = D0 + timedelta(hours=hours)
        return AuditEvent(tenant, who, action, "runs/x", outcome, details, at=at)

    await trail.append(
        "acme",
        [
            event("acme", "alice", "run.read", -3, status=200),  # the day before
            event("acme", "alice", "run.submit", 9, status=202, agent="calc"),
            event("acme", "bob", "run.read", 10, "refused", status=403, kind="forbidden"),
            event("acme", "alice", "thread.write", 11, status=200, agent="triage"),
        ],
    )
    await trail.append("globex", [event("globex", "carol", "run.read", 12, status=200, records=5)])
    await trail.append("globex", [event("globex", "carol", "run.read", 13, status=200)])


async def _tamper(store) -> None:
    """Rewrite globex's first entry in place, as someone with write access to the store might."""
    page = await store.list_audit("globex")
    doc = replace(page.items[0], resource="runs/someone-elses").to_doc()
    await store.restore_documents("audit", [doc])


@pytest.fixture
def service(store, tmp_path) -> ReportService:
    return ReportService(
        store,
        LocalBlobStore(tmp_path / "blobs"),
        AGENTS,
        prices=load_price_book(),
        plan=FlexPlan(instance_memory_mb=2048, always_ready_instances=0, batch_size=32),
        clock=lambda: AFTER,
    )


async def test_cost_figures_match_the_hand_computed_ones(store, clock, service):
    await _fill(store, clock)
    record = await service.build(ReportWork(kind="cost", day=DAY))
    assert record.id == "cost-20261126"
    report = json.loads(await service.content(record, "json"))
    deployments = {line["name"]: line for line in report["by_deployment"]}
    assert deployments["gpt-4o-mini"]["items"] == 3
    assert deployments["gpt-4o-mini"]["failed_items"] == 1
    assert deployments["gpt-4o-mini"]["prompt_tokens"] == 3100
    assert deployments["gpt-4o-mini"]["completion_tokens"] == 600
    assert deployments["gpt-4o-mini"]["cost"] == pytest.approx(0.000825)
    assert deployments["gpt-4o"]["cost"] == pytest.approx(0.0045)
    assert deployments["llama-local"]["cost"] is None
    assert deployments["llama-local"]["unpriced_tokens"] == 400
    assert report["unpriced_deployments"] == ["llama-local"]
    agents = {line["name"]: line["cost"] for line in report["by_agent"]}
    assert agents == {"calc": pytest.approx(0.000825), "summ": pytest.approx(0.0045), "local": None}
    tenants = {line["name"]: line for line in report["by_tenant"]}
    assert tenants["acme"]["cost"] == pytest.approx(0.000825)
    assert tenants["globex"]["cost"] is None  # it holds the unpriced item
    assert tenants["globex"]["priced_cost"] == pytest.approx(0.0045)
    totals = report["totals"]
    assert totals["tokens"]["items"] == 5
    assert totals["tokens"]["total_tokens"] == 3100 + 600 + 1200 + 400
    assert totals["tokens"]["priced_cost"] == pytest.approx(0.005325)
    assert totals["tokens"]["recorded_cost"] == pytest.approx(36.0)  # what the gateway wrote
    assert report["previous_totals"]["tokens"]["priced_cost"] == pytest.approx(0.000105)
    # Compute: runs busy 01:00-01:30 (r1 and r1b overlap), 02:00-02:30, 03:00-03:10 = 4,200 s;
    # executions: 5 audited calls that day + 4 runs x (1 orchestration + 1 batch) = 13.
    compute = totals["compute"]
    assert compute["execution_seconds"] == pytest.approx(4200)
    assert compute["executions"] == 13
    assert compute["on_demand_gb_s"] == pytest.approx(4200 * 2)
    assert record.headline["items"] == 5
    assert record.headline["cost"] is None
    assert record.headline["pricedCost"] == pytest.approx(totals["priced_cost"])


async def test_compliance_figures_and_a_tampered_chain(store, clock, service):
    await _fill(store, clock)
    await _tamper(store)
    record = await service.build(ReportWork(kind="compliance", day=DAY))
    report = json.loads(await service.content(record, "json"))
    assert report["total_accesses"] == 5
    assert report["unique_users"] == 3  # acme/alice, acme/bob, globex/carol
    assert report["refusals"] == 1
    assert report["refusals_by_kind"] == {"forbidden": 1}
    assert report["sensitive_by_agent"] == {"triage": 1}
    chains = {c["tenant_id"]: c for c in report["chains"]}
    assert chains["acme"] == {
        "tenant_id": "acme",
        "entries": 4,
        "holds": True,
        "first_broken_seq": None,
    }
    assert chains["globex"]["holds"] is False
    assert chains["globex"]["first_broken_seq"] == 0
    assert report["chains_hold"] is False
    assert record.headline["chainsHold"] is False
    html = (await service.content(record, "html")).decode()
    assert html.lstrip().lower().startswith("<!doctype html")


async def test_the_same_day_twice_makes_one_report(store, clock, service):
    await _fill(store, clock)
    work = report_work_for_previous_day("cost", AFTER)
    assert work == ReportWork(kind="cost", day=DAY)
    first = await service.build(work)
    clock.now = D0 + timedelta(hours=5)
    await store.complete_item("r3", 1, _ok(1, 1))  # a late write: the stored report stands
    again = await service.build(work)
    assert again == first
    assert [r.id for r in (await service.list("cost")).items] == ["cost-20261126"]


async def test_a_day_that_has_not_ended_is_refused(service):
    with pytest.raises(ValueError, match="has not ended"):
        await service.build(ReportWork(kind="cost", day=AFTER.date()))
    assert (await service.list(None)).items == []


@pytest.mark.parametrize(
    ("zone", "hours", "flagged"),
    [
        ("UTC", "8-18", set()),  # every access of the day falls within 09:00-13:00 UTC
        ("America/Los_Angeles", "8-18", {"alice", "bob", "carol"}),  # 01:00-05:00 there
        ("UTC", "10-12", {"alice", "carol"}),  # 09:00 (alice) and 12:00, 13:00 (carol)
    ],
)
async def test_working_hours_come_from_the_app_settings(
    store, clock, tmp_path, zone, hours, flagged
):
    await _fill(store, clock)
    settings = Settings(COMPLIANCE_TIMEZONE=zone, COMPLIANCE_WORK_HOURS=hours)
    service = ReportService(
        store,
        LocalBlobStore(tmp_path / "blobs"),
        AGENTS,
        prices=load_price_book(),
        compliance_rules=compliance_rules(settings),
        clock=lambda: AFTER,
    )
    record = await service.build(ReportWork(kind="compliance", day=DAY))
    report = json.loads(await service.content(record, "json"))
    outside = [a for a in report["anomalies"] if a["rule"]["name"] == "outside_working_hours"]
    assert {a["principal"] for a in outside} == flagged


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("COMPLIANCE_TIMEZONE", "Mars/Olympus"),
        ("COMPLIANCE_WORK_HOURS", "18-8"),
        ("COMPLIANCE_WORK_HOURS", "8-25"),
        ("COMPLIANCE_WORK_HOURS", "nine to five"),
    ],
)
def test_working_hours_that_cannot_be_honoured_stop_start_up(setting, value):
    with pytest.raises(ValidationError, match=setting):
        Settings(**{setting: value})
