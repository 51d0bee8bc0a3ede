"""Conversations belong to the user and agent that started them, and each user may start a
limited number per day: against the real SQLite store and the model simulator on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentops.auth import Principal
from agentops.bootstrap import Services, build_services
from agentops.conversations import (
    ThreadLimitError,
    ThreadOpened,
    UnknownThreadError,
    thread_count_scope,
)
from agentops.encryption import EncryptionUnavailableError
from agentops.model.stream_events import TextDelta
from agentops.runs.requests import AskRequest
from agentops.settings import Settings
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background

ALICE = Principal("alice-oid", "alice", "acme", frozenset())
BOB = Principal("bob-oid", "bob", "acme", frozenset())
ALICE_ELSEWHERE = Principal("alice-oid", "alice", "globex", frozenset())


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig()) as running:
        yield running


@pytest.fixture
async def services(tmp_path: Path, sim: RunningSimulator) -> AsyncIterator[Services]:
    built = build_services(
        Settings(
            store="sqlite",
            sqlite_path=tmp_path / "agentops.db",
            model_endpoint=sim.url,
            threads_per_user_per_day=2,
        )
    )
    yield built
    await built.aclose()


async def ask(
    services: Services, who: Principal, agent: str, query: str, thread: str | None = None
):
    request = AskRequest(query=query, thread_id=thread)
    return await services.conversations.ask(who, agent, request)


@pytest.mark.parametrize(
    ("intruder", "agent"),
    [(BOB, "summarizer"), (ALICE, "calculator"), (ALICE_ELSEWHERE, "summarizer")],
    ids=["another user", "another agent", "another tenant"],
)
async def test_only_the_user_and_agent_that_started_a_thread_see_it(
    services: Services, intruder: Principal, agent: str
) -> None:
    started = await ask(services, ALICE, "summarizer", "first words")
    with pytest.raises(UnknownThreadError):
        await ask(services, intruder, agent, "let me in", started["thread_id"])
    thread = await services.store.get_thread(started["thread_id"])
    assert [m.role for m in thread.messages] == ["user", "assistant"]
    assert thread.messages[0].text == "first words"
    again = await ask(services, ALICE, "summarizer", "more words", started["thread_id"])
    assert again["messages"] == 4


async def test_a_user_starts_a_limited_number_of_threads_per_day(services: Services) -> None:
    first = await ask(services, ALICE, "summarizer", "one")
    await ask(services, ALICE, "calculator", "2 + 2")
    with pytest.raises(ThreadLimitError) as refused:
        await ask(services, ALICE, "summarizer", "three")
    assert "2 new conversations per user per day" in refused.value.reason
    assert 1 <= refused.value.retry_after_s <= 24 * 3600
    # Going on with a thread is not starting one; other users have their own count.
    assert (await ask(services, ALICE, "summarizer", "go on", first["thread_id"]))["messages"] == 4
    await ask(services, BOB, "summarizer", "bob's first")
    day = datetime.now(UTC).date()
    assert (await services.store.get_usage(thread_count_scope(ALICE), day))[0] == 3
    assert (await services.store.get_usage(thread_count_scope(BOB), day))[0] == 1


async def test_a_sensitive_agent_without_keys_is_refused_before_anything_counts(
    services: Services,
) -> None:
    with pytest.raises(EncryptionUnavailableError):
        await ask(services, ALICE, "triage", "my ticket")
    day = datetime.now(UTC).date()
    assert await services.store.get_usage(thread_count_scope(ALICE), day) == (0, 0.0)
    assert [doc async for doc in services.store.iter_collection("threads")] == []


def test_the_count_scope_is_a_valid_store_key_for_any_user_id() -> None:
    from agentops.store.checks import check_key

    odd = Principal("a/b?c#d\\e " * 40, "odd", "acme", frozenset())
    assert check_key("scope", thread_count_scope(odd))
    assert thread_count_scope(odd) != thread_count_scope(ALICE)
    assert thread_count_scope(ALICE) != thread_count_scope(ALICE_ELSEWHERE)


async def test_a_streamed_ask_stores_the_exchange_it_streamed(services: Services) -> None:
    stream = services.conversations.ask_stream(ALICE, "summarizer", AskRequest(query="hi there"))
    items = [item async for item in stream]
    opened, *pieces, result = items
    assert isinstance(opened, ThreadOpened)
    assert all(isinstance(piece, TextDelta) for piece in pieces) and len(pieces) > 1
    assert result["thread_id"] == opened.thread_id
    assert result["answer"] == "".join(piece.text for piece in pieces)
    thread = await services.store.get_thread(opened.thread_id)
    assert [m.text for m in thread.messages] == ["hi there", result["answer"]]


async def test_a_streamed_ask_refuses_a_strangers_thread_before_any_output(
    services: Services,
) -> None:
    started = await ask(services, ALICE, "summarizer", "first words")
    stream = services.conversations.ask_stream(
        BOB, "summarizer", AskRequest(query="let me in", thread_id=started["thread_id"])
    )
    with pytest.raises(UnknownThreadError):
        await anext(stream)


async def test_a_streamed_ask_stopped_early_stores_nothing(services: Services) -> None:
    stream = services.conversations.ask_stream(ALICE, "summarizer", AskRequest(query="cut me"))
    opened = await anext(stream)
    assert isinstance(await anext(stream), TextDelta)
    await stream.aclose()
    assert isinstance(opened, ThreadOpened)
    assert await services.store.get_thread(opened.thread_id) is None
