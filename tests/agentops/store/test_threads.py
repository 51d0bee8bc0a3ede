"""The store contract for threads.

Every test runs on SQLite and on the Cosmos DB adapter (see conftest)."""

from __future__ import annotations

import asyncio

import pytest

from agentops.store import (
    ConcurrencyError,
    ThreadOwner,
)
from tests.agentops.store.samples import ALICE, msgs


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
