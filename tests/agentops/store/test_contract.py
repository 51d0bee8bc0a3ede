"""The store contract: every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from agentops.model.types import Usage
from agentops.store import (
    COLLECTIONS,
    AuditConflictError,
    AuditEntry,
    ConcurrencyError,
    ItemCounts,
    ItemError,
    ItemOutcome,
    ItemStatus,
    Message,
    Run,
    RunStatus,
    ThreadOwner,
)

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ALICE = ThreadOwner("acme", "alice@acme", "calc")


def make_run(run_id: str = "run-1", tenant: str = "acme", at: datetime = T0, **kw) -> Run:
    return Run(
        run_id=run_id,
        tenant_id=tenant,
        principal="alice@acme",
        agent="calc",
        total=kw.pop("total", 3),
        created_at=at,
        options=kw.pop("options", {"temperature": 0.2}),
        **kw,
    )


def answer(text: str = "42", prompt: int = 10, completion: int = 5, cost: float = 0.01):
    return ItemOutcome.completed(
        text, usage=Usage(prompt, completion), cost=cost, model="gpt-4o-mini"
    )


# -- runs --------------------------------------------------------------------------------------


async def test_run_round_trip_and_missing_run(store):
    run = make_run()
    assert await store.create_run(run) is True
    got = await store.get_run("run-1")
    assert got == make_run(updated_at=T0)
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
    assert await store.get_run("no-such-run") is None


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


# -- items -------------------------------------------------------------------------------------


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


# -- threads -----------------------------------------------------------------------------------


def msgs(*texts: str) -> list[Message]:
    return [Message("user" if i % 2 == 0 else "assistant", t, T0) for i, t in enumerate(texts)]


async def test_thread_keeps_only_the_last_messages(store):
    assert await store.get_thread("t-1") is None
    first = await store.append_messages("t-1", ALICE, msgs("a", "b", "c"), max_messages=4)
    assert [m.text for m in first.messages] == ["a", "b", "c"] and first.version == 1
    second = await store.append_messages("t-1", ALICE, msgs("d", "e"), max_messages=4)
    assert [m.text for m in second.messages] == ["b", "c", "d", "e"]
    assert second.version == 2
    assert await store.get_thread("t-1") == second


async def test_concurrent_appends_all_land(store):
    await asyncio.gather(
        *(store.append_messages("t-1", ALICE, msgs(f"m{n}"), max_messages=50) for n in range(10))
    )
    thread = await store.get_thread("t-1")
    assert sorted(m.text for m in thread.messages) == sorted(f"m{n}" for n in range(10))
    assert thread.version == 10


async def test_append_with_stale_version_is_refused(store):
    thread = await store.append_messages(
        "t-1", ALICE, msgs("a"), max_messages=10, expected_version=0
    )
    await store.append_messages("t-1", ALICE, msgs("b"), max_messages=10)
    with pytest.raises(ConcurrencyError):
        await store.append_messages(
            "t-1", ALICE, msgs("c"), max_messages=10, expected_version=thread.version
        )
    assert [m.text for m in (await store.get_thread("t-1")).messages] == ["a", "b"]


@pytest.mark.parametrize(
    "intruder",
    [
        ThreadOwner("globex", "alice@acme", "calc"),  # another tenant
        ThreadOwner("acme", "bob@acme", "calc"),  # another user of the same tenant
        ThreadOwner("acme", "alice@acme", "triage"),  # the same user with another agent
    ],
    ids=["tenant", "user", "agent"],
)
async def test_thread_of_another_owner_is_refused(store, intruder):
    await store.append_messages("t-1", ALICE, msgs("a"), max_messages=10)
    with pytest.raises(PermissionError):
        await store.append_messages("t-1", intruder, msgs("b"), max_messages=10)
    thread = await store.get_thread("t-1")
    assert thread.owner == ALICE and [m.text for m in thread.messages] == ["a"]


async def test_thread_encrypted_mark_is_kept_once_set(store):
    plain = await store.append_messages("t-1", ALICE, msgs("a"), max_messages=10)
    assert plain.encrypted is False
    await store.append_messages("t-1", ALICE, msgs("b"), max_messages=10, encrypted=True)
    later = await store.append_messages("t-1", ALICE, msgs("c"), max_messages=10)
    assert later.encrypted is True
    assert (await store.get_thread("t-1")).encrypted is True


async def test_replace_message_texts_keeps_messages_and_checks_the_version(store, clock):
    first = await store.append_messages("t-1", ALICE, msgs("a", "b"), max_messages=10)
    clock.advance(5)
    replaced = await store.replace_message_texts("t-1", ["A", "B"], expected_version=1)
    assert [(m.role, m.text, m.at) for m in replaced.messages] == [
        (m.role, m.text.upper(), m.at) for m in first.messages
    ]
    assert replaced.version == 2 and replaced.encrypted and replaced.owner == ALICE
    assert await store.get_thread("t-1") == replaced
    with pytest.raises(ConcurrencyError):
        await store.replace_message_texts("t-1", ["x", "y"], expected_version=1)
    with pytest.raises(ValueError):
        await store.replace_message_texts("t-1", ["only one"], expected_version=2)
    with pytest.raises(KeyError):
        await store.replace_message_texts("t-2", ["a"], expected_version=1)
    assert [m.text for m in (await store.get_thread("t-1")).messages] == ["A", "B"]


# -- re-encryption support ---------------------------------------------------------------------


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


# -- cache -------------------------------------------------------------------------------------


async def test_cache_hit_miss_and_expiry(store, clock):
    assert await store.cache_get("k1") is None
    await store.cache_put("k1", {"text": "hello", "usage": [1, 2]}, ttl_s=60)
    assert await store.cache_get("k1") == {"text": "hello", "usage": [1, 2]}
    clock.advance(59)
    assert await store.cache_get("k1") is not None
    clock.advance(1)
    assert await store.cache_get("k1") is None
    # Writing again revives the key with a fresh TTL.
    await store.cache_put("k1", {"text": "again"}, ttl_s=10)
    assert await store.cache_get("k1") == {"text": "again"}


async def test_cache_documents_carry_their_ttl(store):
    await store.cache_put("k1", {"v": 1}, ttl_s=300)
    docs = [doc async for doc in store.iter_collection("cache")]
    assert [(d["key"], d["ttl"]) for d in docs] == [("k1", 300)]


# -- usage counters ----------------------------------------------------------------------------


async def test_add_usage_is_atomic_under_concurrency(store):
    day = date(2026, 11, 26)
    await asyncio.gather(*(store.add_usage("tenant:acme", day, 100, 0.5) for _ in range(25)))
    tokens, cost = await store.get_usage("tenant:acme", day)
    assert tokens == 2_500
    assert cost == pytest.approx(12.5)
    assert await store.add_usage("tenant:acme", day, 1, 0.25) == (2_501, pytest.approx(12.75))
    assert await store.get_usage("tenant:acme", date(2026, 11, 27)) == (0, 0.0)
    assert await store.get_usage("agent:calc", day) == (0, 0.0)


# -- audit -------------------------------------------------------------------------------------


def audit(seq: int, tenant: str = "acme", at: datetime | None = None, **kw) -> AuditEntry:
    return AuditEntry(
        id=kw.pop("id", f"e-{tenant}-{seq}"),
        tenant_id=tenant,
        seq=seq,
        at=at or T0 + timedelta(seconds=seq),
        principal="alice@acme",
        action="run.create",
        resource=f"runs/run-{seq}",
        outcome="allowed",
        details={"queries": seq},
        prev_hash=None if seq == 0 else f"h{seq - 1}",
        hash=f"h{seq}",
    )


async def test_audit_is_ordered_and_exposes_the_chain_head(store):
    assert await store.last_audit("acme") is None
    for seq in (0, 1, 2, 3, 4):
        assert await store.append_audit(audit(seq)) is True
    await store.append_audit(audit(0, tenant="globex"))
    assert await store.last_audit("acme") == audit(4)
    seen, token = [], None
    while True:
        page = await store.list_audit("acme", limit=2, continuation=token)
        seen += page.items
        token = page.continuation
        if token is None:
            break
    assert seen == [audit(seq) for seq in range(5)]
    recent = await store.list_audit("acme", since=T0 + timedelta(seconds=3))
    assert [e.seq for e in recent.items] == [3, 4]


async def test_audit_position_cannot_be_taken_twice(store):
    assert await store.append_audit(audit(0)) is True
    assert await store.append_audit(audit(0)) is False  # the same entry again: a retry
    with pytest.raises(AuditConflictError):
        await store.append_audit(audit(0, id="someone-else"))
    page = await store.list_audit("acme")
    assert page.items == [audit(0)]


# -- backup ------------------------------------------------------------------------------------


async def fill(store) -> None:
    await store.create_run(make_run())
    await store.add_items("run-1", ["a", "b", "c"])
    await store.complete_item("run-1", 1, answer())
    await store.append_messages("t-1", ALICE, msgs("hi", "hello"), max_messages=10)
    await store.cache_put("k1", {"v": 1}, ttl_s=3600)
    await store.add_usage("tenant:acme", date(2026, 11, 26), 15, 0.01)
    await store.append_audit(audit(0))


async def snapshot(store) -> dict[str, list[dict]]:
    result = {}
    for name in COLLECTIONS:
        docs = [doc async for doc in store.iter_collection(name)]
        result[name] = sorted(docs, key=lambda d: (str(d.get("id")), str(sorted(d.items()))))
    return result


async def test_iter_and_restore_round_trip(store_factory):
    source = await store_factory()
    await fill(source)
    before = await snapshot(source)
    assert {name: len(docs) for name, docs in before.items()} == {
        "runs": 1,
        "items": 3,
        "threads": 1,
        "cache": 1,
        "usage": 1,
        "audit": 1,
    }
    target = await store_factory()
    for name, docs in before.items():
        assert await target.restore_documents(name, docs) == len(docs)
    assert await snapshot(target) == before
    # Restored data behaves like the original, not just looks like it.
    assert await target.get_run("run-1") == await source.get_run("run-1")
    assert await target.complete_item("run-1", 1, answer()) is False
    assert await target.complete_item("run-1", 0, answer()) is True
    assert await target.cache_get("k1") == {"v": 1}
    assert await target.last_audit("acme") == audit(0)
    # Restoring twice is an upsert, not a duplicate.
    await target.restore_documents("items", before["items"])
    assert ((await target.item_totals("run-1")).counts).total == 3


async def test_unknown_collection_is_refused(store):
    with pytest.raises(ValueError, match="unknown collection"):
        await store.restore_documents("secrets", [{"id": "x"}])
    with pytest.raises(ValueError, match="unknown collection"):
        [doc async for doc in store.iter_collection("secrets")]


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["", "a/b", "a#b", "a?b", "a\\b", "x" * 256])
async def test_bad_keys_are_refused_before_any_write(store, bad_id):
    with pytest.raises(ValueError):
        await store.create_run(make_run(run_id=bad_id))
    with pytest.raises(ValueError):
        await store.add_items(bad_id, ["q"])
    with pytest.raises(ValueError):
        await store.cache_put(bad_id, {"v": 1}, ttl_s=5)
    with pytest.raises(ValueError):
        await store.add_usage(bad_id, date(2026, 11, 26), 1, 0.0)
    assert (await store.list_runs(None)).items == []
    assert [doc async for doc in store.iter_collection("cache")] == []


async def test_bad_arguments_are_refused(store):
    await store.add_items("run-1", ["q"])
    with pytest.raises(TypeError):
        await store.add_items("run-1", "not a list")
    with pytest.raises(ValueError):
        await store.list_items("run-1", limit=0)
    with pytest.raises(ValueError):
        await store.list_items("run-1", after_index=-2)
    with pytest.raises(ValueError):
        await store.list_runs("acme", continuation="garbage!")
    with pytest.raises(ValueError):
        await store.cache_put("k", {"v": 1}, ttl_s=0)
    with pytest.raises(ValueError):
        await store.add_usage("tenant:acme", date(2026, 11, 26), -1, 0.0)
    with pytest.raises(TypeError):
        await store.add_usage("tenant:acme", datetime(2026, 11, 26, tzinfo=UTC), 1, 0.0)
    with pytest.raises(ValueError):
        await store.append_messages("t-1", ALICE, msgs("a"), max_messages=0)
    with pytest.raises(TypeError):
        await store.append_messages("t-1", "acme", msgs("a"), max_messages=10)
    with pytest.raises(ValueError):
        await store.append_messages(
            "t-1", ThreadOwner("acme", "", "calc"), msgs("a"), max_messages=10
        )
    with pytest.raises(ValueError):
        ItemOutcome(ItemStatus.PENDING)
    assert await store.get_thread("t-1") is None
    assert await store.get_usage("tenant:acme", date(2026, 11, 26)) == (0, 0.0)
