"""Sensitive agents' texts at rest, on SQLite and on the Cosmos-compatible server: the stored
documents hold no plain query, answer or message; the owner reads them back; keys rotate and the
re-encryption job moves everything to the active key, idempotently."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from agentops.auth import LOCAL_PRINCIPAL
from agentops.bootstrap import Services, build_services
from agentops.encryption import EncryptionUnavailableError
from agentops.encryption.keyring import key_id_of
from agentops.encryption.reencrypt import Reencryption
from agentops.runs.contracts import BatchWork
from agentops.runs.requests import AskRequest, RunRequest
from agentops.settings import Settings
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background
from tests.agentops.store.conftest import EMULATOR_KEY, create_database, delete_database

K1, K2 = os.urandom(32), os.urandom(32)
SECRET_WORDS = ("Xylophone-7731", "Quagmire-4410", "Zeppelin-9052")
QUERIES = [f"ticket from {word}: I cannot log in" for word in SECRET_WORDS]


def keys(active: str, **ring: bytes) -> SecretStr:
    encoded = {kid: base64.b64encode(key).decode() for kid, key in ring.items()}
    return SecretStr(json.dumps({"active": active, "keys": encoded}))


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig()) as running:
        yield running


Open = Callable[..., Services]


@pytest.fixture
async def open_services(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sim: RunningSimulator
) -> AsyncIterator[tuple[Open, Callable[[], Awaitable[list[str]]]]]:
    """Builds services on one store (per test) with the given settings, and reads the raw
    stored documents of items and threads, as the backing service holds them."""
    built: list[Services] = []
    base: dict[str, Any] = {"model_endpoint": sim.url, "inline_retry_max_wait_s": 0}
    server = None
    if backend == "sqlite":
        db = tmp_path / "agentops.db"
        base.update(store="sqlite", sqlite_path=db)
    else:
        server = request.getfixturevalue("cosmos_server")
        name = f"test-{uuid.uuid4().hex[:12]}"
        await create_database(server, name)
        base.update(
            store="cosmos",
            cosmos_endpoint=server.endpoint,
            cosmos_key=SecretStr(EMULATOR_KEY),
            cosmos_database=name,
            cosmos_endpoint_discovery=False,
        )

    def make(**overrides: Any) -> Services:
        services = build_services(Settings(**{**base, **overrides}))
        built.append(services)
        return services

    async def raw_documents() -> list[str]:
        if backend == "sqlite":
            with sqlite3.connect(base["sqlite_path"]) as conn:
                rows = conn.execute("SELECT doc FROM items UNION ALL SELECT doc FROM threads")
                return [row[0] for row in rows]
        from azure.cosmos.aio import CosmosClient

        async with CosmosClient(
            server.endpoint, EMULATOR_KEY, enable_endpoint_discovery=False
        ) as client:
            database = client.get_database_client(base["cosmos_database"])
            docs = []
            for container in ("items", "threads"):
                proxy = database.get_container_client(container)
                docs += [json.dumps(doc) async for doc in proxy.read_all_items()]
            return docs

    yield make, raw_documents
    for services in built:
        await services.aclose()
    if server is not None:
        await delete_database(server, base["cosmos_database"])


async def _run_all(services: Services, agent: str, queries: list[str]) -> str:
    run = await services.runs.create(LOCAL_PRINCIPAL, agent, RunRequest(queries=queries))
    work = BatchWork(
        run_id=run.run_id, tenant="local", agent=agent, indexes=list(range(len(queries)))
    )
    report = await services.batches.run(work)
    assert report.completed == len(queries)
    return run.run_id


async def _answers(services: Services, run_id: str) -> list[str]:
    view = await services.runs.view(
        LOCAL_PRINCIPAL,
        run_id,
        runtime_status=None,
        custom_status=None,
        continuation=None,
        limit=10,
    )
    return [item.answer for item in view.items]


async def test_a_sensitive_run_and_thread_store_no_plain_text(open_services) -> None:
    make, raw_documents = open_services
    services = make(data_encryption_keys=keys("k1", k1=K1))
    run_id = await _run_all(services, "triage", QUERIES)
    ask = await services.conversations.ask(
        LOCAL_PRINCIPAL, "triage", AskRequest(query=f"{SECRET_WORDS[0]} again")
    )
    follow = await services.conversations.ask(
        LOCAL_PRINCIPAL,
        "triage",
        AskRequest(query="and now?", thread_id=ask["thread_id"]),
    )
    assert follow["messages"] == 4

    # The owner reads plain answers (the simulator echoes the query into its answer).
    answers = await _answers(services, run_id)
    assert all(word in answer for word, answer in zip(SECRET_WORDS, answers, strict=True))
    # Counts, usage and cost come without a key.
    totals = await services.store.item_totals(run_id)
    assert totals.counts.completed == 3 and totals.usage.total_tokens > 0
    assert (await services.store.get_run(run_id)).encrypted is True

    stored = "\n".join(await raw_documents())
    assert stored.count("enc:v1:k1:") == 3 * 2 + 4  # queries, answers, thread messages
    for word in (*SECRET_WORDS, "cannot log in", "and now?", ask["answer"][:20]):
        assert word not in stored


async def test_non_sensitive_agents_are_stored_as_before(open_services) -> None:
    make, raw_documents = open_services
    services = make(data_encryption_keys=keys("k1", k1=K1))
    run_id = await _run_all(services, "summarizer", QUERIES)
    assert (await services.store.get_run(run_id)).encrypted is False
    [item] = await services.store.get_items(run_id, [0])
    assert item.query == QUERIES[0] and SECRET_WORDS[0] in (item.answer or "")
    assert "enc:v1:" not in "\n".join(await raw_documents())


async def test_without_keys_a_sensitive_agent_is_refused_and_nothing_is_stored(
    open_services,
) -> None:
    make, raw_documents = open_services
    services = make()  # no DATA_ENCRYPTION_KEYS
    with pytest.raises(EncryptionUnavailableError, match="DATA_ENCRYPTION_KEYS"):
        await services.runs.create(LOCAL_PRINCIPAL, "triage", RunRequest(queries=QUERIES))
    with pytest.raises(EncryptionUnavailableError):
        await services.conversations.ask(LOCAL_PRINCIPAL, "triage", AskRequest(query="hello"))
    assert (await services.store.list_runs(None)).items == []
    assert await raw_documents() == []
    # Agents that are not sensitive work without keys.
    await _run_all(services, "summarizer", QUERIES[:1])


async def test_rotation_then_re_encryption_lets_the_old_key_go(open_services) -> None:
    make, raw_documents = open_services
    before = make(data_encryption_keys=keys("k1", k1=K1))
    run_id = await _run_all(before, "triage", QUERIES)
    ask = await before.conversations.ask(LOCAL_PRINCIPAL, "triage", AskRequest(query="hi there"))
    expected = await _answers(before, run_id)

    rotated = make(data_encryption_keys=keys("k2", k1=K1, k2=K2))
    assert await _answers(rotated, run_id) == expected  # old values still read
    job = Reencryption(rotated.store, rotated.sealer, sensitive_agents={"triage"})
    first = await job.run()
    assert (first.runs, first.items, first.threads) == (1, 3, 1)
    assert (first.rewritten, first.current, first.failed) == (3 * 2 + 2, 0, 0)
    stored = "\n".join(await raw_documents())
    assert "enc:v1:k1:" not in stored and stored.count("enc:v1:k2:") == 8

    again = await job.run()  # idempotent: nothing left to move
    assert (again.rewritten, again.current, again.failed) == (0, 8, 0)

    retired = make(data_encryption_keys=keys("k2", k2=K2))
    assert await _answers(retired, run_id) == expected
    follow = await retired.conversations.ask(
        LOCAL_PRINCIPAL, "triage", AskRequest(query="more", thread_id=ask["thread_id"])
    )
    assert follow["messages"] == 4
    thread = await retired.store.get_thread(ask["thread_id"])
    assert {key_id_of(m.text) for m in thread.messages} == {"k2"}


async def test_re_encryption_seals_texts_written_before_the_agent_was_sensitive(
    open_services,
) -> None:
    make, raw_documents = open_services
    services = make(data_encryption_keys=keys("k1", k1=K1))
    run_id = await _run_all(services, "summarizer", QUERIES[:2])  # stored plain
    # The agent is declared sensitive afterwards: the job seals what was stored plain.
    report = await Reencryption(
        services.store, services.sealer, sensitive_agents={"summarizer"}
    ).run()
    assert (report.runs, report.rewritten, report.failed) == (1, 4, 0)
    assert (await services.store.get_run(run_id)).encrypted is True
    assert not any(word in doc for doc in await raw_documents() for word in SECRET_WORDS[:2])
    answers = await _answers(services, run_id)
    assert SECRET_WORDS[0] in answers[0] and SECRET_WORDS[1] in answers[1]
