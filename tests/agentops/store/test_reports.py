"""The store contract for reports and for the cross-partition reads that feed them.

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.agentops.store.samples import T0, answer, audit, make_run, report


async def _all_pages(fetch, **kw):
    seen, token = [], None
    while True:
        page = await fetch(continuation=token, **kw)
        seen += page.items
        token = page.continuation
        if token is None:
            return seen


async def test_a_report_is_stored_once_by_id_and_read_back(store):
    assert await store.get_report("cost-20261126") is None
    await store.put_report(report(0, items=3))
    await store.put_report(report(0, items=4))  # the same period rebuilt: replaced, not added
    assert await store.get_report("cost-20261126") == report(0, items=4)
    assert [r.id for r in (await store.list_reports("cost")).items] == ["cost-20261126"]


async def test_reports_list_by_kind_newest_first_in_pages(store):
    for day in (2, 0, 3, 1):
        await store.put_report(report(day))
        await store.put_report(report(day, kind="compliance"))
    costs = await _all_pages(store.list_reports, kind="cost", limit=3)
    assert [r.id for r in costs] == [f"cost-2026112{d}" for d in (9, 8, 7, 6)]
    every = await _all_pages(store.list_reports, kind=None, limit=3)
    assert [r.id for r in every] == [
        f"{kind}-2026112{d}" for d in (9, 8, 7, 6) for kind in ("cost", "compliance")
    ]
    assert (await store.list_reports("nothing")).items == []


async def test_report_arguments_are_checked_before_any_io(store):
    with pytest.raises(ValueError):
        await store.get_report("../etc")
    with pytest.raises(ValueError):
        await store.list_reports("cost", limit=0)
    with pytest.raises(ValueError):
        await store.list_reports("cost", continuation="not-a-token")


async def test_items_completed_in_a_period_are_read_across_runs_in_pages(store, clock):
    for run_id in ("run-b", "run-a"):
        await store.create_run(make_run(run_id, total=4))
        await store.add_items(run_id, ["q0", "q1", "q2", "q3"])
    completed = []
    for minute, (run_id, index) in enumerate(
        [("run-a", 0), ("run-b", 0), ("run-a", 1), ("run-b", 1), ("run-b", 2), ("run-a", 2)]
    ):
        clock.now = T0 + timedelta(minutes=minute)
        await store.complete_item(run_id, index, answer())
        completed.append((run_id, index))
    # [T0 + 1 min, T0 + 5 min): the first and the last completions are outside, run-*/3 pending.
    found = await _all_pages(
        store.list_completed_items,
        start=T0 + timedelta(minutes=1),
        end=T0 + timedelta(minutes=5),
        limit=2,
    )
    assert [(i.run_id, i.index) for i in found] == completed[1:5]
    assert all(i.completed_at is not None for i in found)


async def test_audit_entries_of_a_period_are_read_across_tenants_in_pages(store):
    for seq in range(4):
        await store.append_audit(audit(seq, "acme", at=T0 + timedelta(seconds=seq)))
        await store.append_audit(audit(seq, "globex", at=T0 + timedelta(seconds=seq)))
    found = await _all_pages(
        store.list_audit_between,
        start=T0 + timedelta(seconds=1),
        end=T0 + timedelta(seconds=3),
        limit=3,
    )
    assert [(e.tenant_id, e.seq) for e in found] == [
        ("acme", 1),
        ("globex", 1),
        ("acme", 2),
        ("globex", 2),
    ]
    assert await store.list_audit_tenants() == ["acme", "globex"]
    with pytest.raises(ValueError):
        await store.list_audit_between(T0, T0)
