"""The store contract for runs and their items.

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta

import pytest

from agentops.store import (
    ItemCounts,
    ItemError,
    ItemOutcome,
    ItemStatus,
    RunStatus,
    Usage,
)
from agentops.store.records import CacheEntry
from tests.agentops.store.samples import T0, answer, make_run


# -- runs ----------------------------------------------------------------------------------
async def test_run_round_trip_and_missing_run(store):
    run = make_run()
    assert await store.create_run(run) is True
    got = await store.get_run("run-1")
    assert got == make_run(updated_at=T0)
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
    assert await store.get_run("no-such-run") is None


async def test_a_run_keeps_its_trace_id_and_one_stored_without_it_still_reads(store):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    await store.create_run(make_run(trace_id=trace_id))
    assert (await store.get_run("run-1")).trace_id == trace_id
    # A run stored before the field existed (or restored from such a backup) has no trace id.
    older = make_run("run-0").to_doc()
    del older["trace_id"]
    await store.restore_documents("runs", [older])
    assert (await store.get_run("run-0")).trace_id is None


async def test_create_run_twice_keeps_the_first(store):
    assert await store.create_run(make_run(total=3)) is True
    assert await store.create_run(make_run(total=99)) is False
    assert (await store.get_run("run-1")).total == 3


async def test_update_run(store, clock):
    await store.create_run(make_run())
    clock.advance(60)
    finished = T0 + timedelta(minutes=5)
    updated = await store.update_run(
        "run-1",
        status=RunStatus.COMPLETED,
        counts=ItemCounts(0, 2, 1),
        usage=Usage(30, 15),
        cost=0.03,
        finished_at=finished,
        instance_id="orch-1",
    )
    assert updated == await store.get_run("run-1")
    assert updated.status is RunStatus.COMPLETED
    assert updated.counts == ItemCounts(0, 2, 1)
    assert updated.usage == Usage(30, 15)
    assert updated.cost == pytest.approx(0.03)
    assert updated.finished_at == finished
    assert updated.instance_id == "orch-1"
    assert updated.updated_at == T0 + timedelta(seconds=60)
    assert updated.created_at == T0


async def test_update_run_refuses_bad_changes_and_changes_nothing(store):
    await store.create_run(make_run())
    with pytest.raises(ValueError, match="tenant_id"):
        await store.update_run("run-1", tenant_id="other")
    with pytest.raises(ValueError):
        await store.update_run("run-1", status="exploded")
    with pytest.raises(KeyError):
        await store.update_run("no-such-run", status="running")
    assert await store.get_run("run-1") == make_run(updated_at=T0)


async def test_list_runs_newest_first_with_continuation(store):
    for i in range(7):
        await store.create_run(make_run(f"run-{i}", at=T0 + timedelta(minutes=i)))
    # Same timestamp: the run id breaks the tie, so no run is skipped or repeated.
    await store.create_run(make_run("run-3b", at=T0 + timedelta(minutes=3)))
    await store.create_run(make_run("other-1", tenant="globex"))
    seen, token = [], None
    while True:
        page = await store.list_runs("acme", limit=3, continuation=token)
        assert len(page.items) <= 3
        seen += [run.run_id for run in page.items]
        token = page.continuation
        if token is None:
            break
    assert seen == ["run-6", "run-5", "run-4", "run-3b", "run-3", "run-2", "run-1", "run-0"]
    everyone = await store.list_runs(None, limit=100)
    assert len(everyone.items) == 9 and everyone.continuation is None


async def test_list_runs_filters_by_agent_and_status_across_pages(store):
    for i in range(5):
        run = make_run(f"run-{i}", at=T0 + timedelta(minutes=i))
        agent = "calc" if i % 2 == 0 else "writer"
        status = RunStatus.COMPLETED if i < 3 else RunStatus.PENDING
        await store.create_run(dataclasses.replace(run, agent=agent, status=status))
    await store.create_run(dataclasses.replace(make_run("other-1", tenant="globex")))
    calc = await store.list_runs("acme", agent="calc")
    assert [run.run_id for run in calc.items] == ["run-4", "run-2", "run-0"]
    done, token = [], None
    while True:
        page = await store.list_runs("acme", limit=1, status="completed", continuation=token)
        done += [run.run_id for run in page.items]
        if (token := page.continuation) is None:
            break
    assert done == ["run-2", "run-1", "run-0"]
    both = await store.list_runs(None, agent="writer", status="pending")
    assert [run.run_id for run in both.items] == ["run-3"]
    assert (await store.list_runs("globex", agent="writer")).items == []
    with pytest.raises(ValueError):
        await store.list_runs("acme", status="exploded")


# -- items ---------------------------------------------------------------------------------
async def test_add_items_is_idempotent_and_keeps_progress(store):
    queries = [f"what is {i} + {i}?" for i in range(250)]
    assert await store.add_items("run-1", queries) == 250
    assert await store.complete_item("run-1", 7, answer("14"))
    assert await store.add_items("run-1", queries) == 0
    counts = (await store.item_totals("run-1")).counts
    assert counts == ItemCounts(pending=249, completed=1, failed=0)
    (item,) = await store.get_items("run-1", [7])
    assert item.status is ItemStatus.COMPLETED and item.answer == "14"


async def test_add_items_concurrently_does_not_duplicate(store):
    queries = [f"q{i}" for i in range(300)]
    added = await asyncio.gather(*(store.add_items("run-1", queries) for _ in range(3)))
    assert sum(added) == 300
    assert ((await store.item_totals("run-1")).counts).pending == 300


async def test_add_ten_thousand_items(store):
    queries = [f"query number {i}" for i in range(10_000)]
    started = time.perf_counter()
    assert await store.add_items("run-big", queries) == 10_000
    elapsed = time.perf_counter() - started
    assert ((await store.item_totals("run-big")).counts).pending == 10_000
    items = await store.get_items("run-big", [0, 9_999, 5_000, 10_000])
    assert [(i.index, i.query) for i in items] == [
        (0, "query number 0"),
        (5_000, "query number 5000"),
        (9_999, "query number 9999"),
    ]
    assert elapsed < 30, f"adding 10,000 items took {elapsed:.1f} s"


async def test_get_items_returns_existing_in_index_order(store):
    await store.add_items("run-1", ["a", "b", "c", "d"])
    items = await store.get_items("run-1", [3, 1, 1, 42])
    assert [(i.index, i.query, i.status) for i in items] == [
        (1, "b", ItemStatus.PENDING),
        (3, "d", ItemStatus.PENDING),
    ]
    assert await store.get_items("run-1", []) == []
    assert await store.get_items("other-run", [0]) == []


async def test_complete_item_moves_once_under_concurrency(store, clock):
    await store.add_items("run-1", ["q0", "q1"])
    outcomes = [answer(f"answer {n}") for n in range(20)]
    results = await asyncio.gather(*(store.complete_item("run-1", 0, o) for o in outcomes))
    assert results.count(True) == 1
    winner = outcomes[results.index(True)]
    (item,) = await store.get_items("run-1", [0])
    assert item.status is ItemStatus.COMPLETED
    assert item.answer == winner.answer
    assert item.usage == Usage(10, 5)
    assert item.model == "gpt-4o-mini"
    assert item.completed_at == clock.now
    assert item.attempts == 1
    # A re-executed activity gets False and the item is not billed twice.
    assert await store.complete_item("run-1", 0, answer("again", 999, 999, 9.0)) is False
    totals = await store.item_totals("run-1")
    assert totals.usage == Usage(10, 5) and totals.cost == pytest.approx(0.01)


async def test_item_stats_latency_retries_and_spend_by_model(store):
    def done(model: str, ms: int, prompt: int, completion: int, cost: float) -> ItemOutcome:
        usage = Usage(prompt, completion)
        return ItemOutcome.completed("a", usage=usage, cost=cost, model=model, duration_ms=ms)

    await store.add_items("run-1", [f"q{i}" for i in range(5)])
    await store.add_items("run-2", ["elsewhere"])
    await store.record_attempt("run-1", 0, ItemError("transient", "429"))
    await store.complete_item("run-1", 0, done("gpt-a", 100, 10, 5, 0.01))
    await store.complete_item("run-1", 1, done("gpt-a", 300, 20, 10, 0.02))
    await store.complete_item("run-1", 2, done("gpt-b", 200, 1, 1, 0.5))
    failure = ItemOutcome.failed(ItemError("permanent", "bad request"), duration_ms=50)
    await store.complete_item("run-1", 3, failure)
    for _ in range(2):  # still pending: two attempts spent, one of them a retry already
        await store.record_attempt("run-1", 4, ItemError("transient", "timeout"))
    await store.complete_item("run-2", 0, done("gpt-a", 9_000, 1, 1, 7.0))
    # An item finished before durations were kept: counted in spend, left out of latency.
    older = dataclasses.replace(
        (await store.get_items("run-1", [0]))[0], index=5, usage=Usage(3, 2), cost=0.25
    )
    older_doc = {**older.to_doc(), "model": "gpt-b", "attempts": 1}
    del older_doc["duration_ms"]
    await store.restore_documents("items", [older_doc])

    stats = await store.item_stats("run-1")
    assert (stats.timed, stats.latency_p50_ms, stats.latency_p95_ms) == (4, 100, 300)
    assert stats.retries == 1 + 1
    assert [(s.model, s.items, s.usage) for s in stats.by_model] == [
        ("gpt-b", 2, Usage(4, 3)),
        ("gpt-a", 2, Usage(30, 15)),
    ]  # the failed item spent nothing on any model: it is in no row
    assert [s.cost for s in stats.by_model] == pytest.approx([0.75, 0.03])
    (item,) = await store.get_items("run-1", [1])
    assert item.duration_ms == 300

    empty = await store.item_stats("no-such-run")
    assert (empty.timed, empty.latency_p50_ms, empty.latency_p95_ms) == (0, None, None)
    assert (empty.retries, empty.by_model) == (0, ())


async def test_complete_item_failed_outcome_and_missing_item(store):
    await store.add_items("run-1", ["q0"])
    failure = ItemOutcome.failed(ItemError("content_filter", "blocked by policy"))
    assert await store.complete_item("run-1", 0, failure) is True
    (item,) = await store.get_items("run-1", [0])
    assert item.status is ItemStatus.FAILED
    assert item.error == ItemError("content_filter", "blocked by policy")
    assert item.answer is None
    assert await store.complete_item("run-1", 0, answer()) is False
    with pytest.raises(KeyError):
        await store.complete_item("run-1", 5, answer())


async def test_record_attempt_counts_and_keeps_item_pending(store):
    await store.add_items("run-1", ["q0"])
    assert await store.record_attempt("run-1", 0, ItemError("transient", "429")) == 1
    assert await store.record_attempt("run-1", 0, ItemError("transient", "timeout")) == 2
    (item,) = await store.get_items("run-1", [0])
    assert item.status is ItemStatus.PENDING
    assert item.attempts == 2
    assert item.error == ItemError("transient", "timeout")
    assert await store.complete_item("run-1", 0, answer()) is True
    (item,) = await store.get_items("run-1", [0])
    assert item.attempts == 3 and item.status is ItemStatus.COMPLETED
    # A terminal item is not touched by a late attempt.
    assert await store.record_attempt("run-1", 0, ItemError("transient", "late")) == 3
    with pytest.raises(KeyError):
        await store.record_attempt("run-1", 9, ItemError("transient", "x"))


async def test_list_items_pages_through_everything_in_order(store):
    await store.add_items("run-1", [f"q{i}" for i in range(23)])
    await store.add_items("run-2", ["elsewhere"])
    seen, after = [], None
    pages = 0
    while True:
        items, after = await store.list_items("run-1", after_index=after, limit=5)
        pages += 1
        seen += [item.index for item in items]
        if after is None:
            break
    assert seen == list(range(23))
    assert pages == 5
    items, after = await store.list_items("run-1", limit=23)
    assert len(items) == 23 and after is None


async def test_totals_are_a_single_partition_aggregate(store):
    await store.add_items("run-1", [f"q{i}" for i in range(5)])
    await store.add_items("run-2", ["x"])
    await store.complete_item("run-1", 0, answer(prompt=10, completion=5, cost=0.5))
    await store.complete_item("run-1", 1, answer(prompt=20, completion=7, cost=0.25))
    await store.complete_item(
        "run-1", 2, ItemOutcome.failed(ItemError("bad_request", "400"), usage=Usage(3, 0))
    )
    await store.complete_item("run-2", 0, answer(prompt=1000, completion=1000, cost=100))
    assert (await store.item_totals("run-1")).counts == ItemCounts(pending=2, completed=2, failed=1)
    totals = await store.item_totals("run-1")
    assert totals.usage == Usage(33, 12)
    assert totals.cost == pytest.approx(0.75)
    empty = await store.item_totals("no-such-run")
    assert empty.counts == ItemCounts() and empty.usage == Usage() and empty.cost == 0


async def test_cached_flag_is_kept(store):
    await store.add_items("run-1", ["q"])
    outcome = ItemOutcome.completed("from cache", cached=True, model="m", saved_cost=0.4)
    assert await store.complete_item("run-1", 0, outcome)
    (item,) = await store.get_items("run-1", [0])
    assert item.cached is True and item.cost == 0 and item.usage == Usage()
    assert item.saved_cost == pytest.approx(0.4)


async def test_totals_count_cache_hits_and_what_they_saved(store):
    await store.add_items("run-1", ["a", "b", "c"])
    await store.complete_item("run-1", 0, answer(prompt=10, completion=5, cost=0.5))
    for index in (1, 2):
        hit = ItemOutcome.completed("from cache", cached=True, saved_cost=0.5)
        await store.complete_item("run-1", index, hit)
    totals = await store.item_totals("run-1")
    assert totals.cached == 2
    assert totals.saved_cost == pytest.approx(1.0)
    assert totals.cost == pytest.approx(0.5)


# -- re-encryption support -----------------------------------------------------------------
async def test_swap_item_text_only_replaces_the_expected_value(store):
    await store.add_items("run-1", ["q0", "q1"])
    assert await store.swap_item_text("run-1", 0, "query", "q0", "Q0") is True
    assert await store.swap_item_text("run-1", 1, "query", "stale", "Q1") is False
    await store.complete_item("run-1", 0, answer("a0"))
    assert await store.swap_item_text("run-1", 0, "answer", "a0", "A0") is True
    [first, second] = await store.get_items("run-1", [0, 1])
    assert (first.query, first.answer, first.status) == ("Q0", "A0", ItemStatus.COMPLETED)
    assert (second.query, second.answer) == ("q1", None)
    # The plain columns that counts and totals read are untouched.
    assert (await store.item_totals("run-1")).counts == ItemCounts(1, 1, 0)
    with pytest.raises(ValueError):
        await store.swap_item_text("run-1", 0, "status", "completed", "pending")
    with pytest.raises(KeyError):
        await store.swap_item_text("run-1", 7, "query", "q", "Q")


async def test_run_encrypted_mark_round_trips_and_can_be_set(store):
    await store.create_run(make_run("run-1"))
    await store.create_run(make_run("run-2", encrypted=True))
    assert (await store.get_run("run-1")).encrypted is False
    assert (await store.get_run("run-2")).encrypted is True
    assert (await store.update_run("run-1", encrypted=True)).encrypted is True
    with pytest.raises(TypeError):
        await store.update_run("run-1", encrypted="yes")


async def test_an_outcome_and_its_cache_entry_are_written_together(store):
    await store.create_run(make_run())
    await store.add_items("run-1", ["q0", "q1"])
    entry = CacheEntry("p:answer-0", {"text": "42", "producer": "run-1:0"}, ttl_s=300)
    assert await store.complete_item("run-1", 0, answer("42"), entry)
    assert await store.cache_get("p:answer-0") == {"text": "42", "producer": "run-1:0"}
    (item,) = await store.get_items("run-1", [0])
    assert item.status is ItemStatus.COMPLETED and item.answer == "42"
    # A re-executed completion changes nothing on the item; the entry is the same answer.
    assert not await store.complete_item("run-1", 0, answer("other"), entry)
    assert (await store.get_items("run-1", [0]))[0].answer == "42"


async def test_a_bad_cache_entry_is_refused_before_the_outcome_is_written(store):
    await store.create_run(make_run())
    await store.add_items("run-1", ["q0"])
    with pytest.raises(ValueError):
        await store.complete_item("run-1", 0, answer(), CacheEntry("bad/key", {}, ttl_s=60))
    assert (await store.get_items("run-1", [0]))[0].status is ItemStatus.PENDING
