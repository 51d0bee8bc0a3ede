"""Durable entities through the SDK's own client and the entity HTTP API, over loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import azure.durable_functions as df
import httpx
import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from devhost.testing import start_devhost

from .conftest import APPS, SYSTEM_KEY, wait_for_status

pytestmark = pytest.mark.timeout(60)

WEBHOOK = "/runtime/webhooks/durabletask"
KEY = {"code": SYSTEM_KEY}


@pytest.fixture
async def entities(serve_engine):
    return await serve_engine("durable_entities")


async def _state_when(
    client: df.DurableOrchestrationClient, entity: df.EntityId, wanted, within=10.0
):
    deadline = asyncio.get_running_loop().time() + within
    while True:
        state = await client.read_entity_state(entity)
        if state.entity_exists and state.entity_state == wanted:
            return state
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{entity} is {state.entity_state!r}, not {wanted!r}")
        await asyncio.sleep(0.01)


async def test_concurrent_client_signals_give_the_exact_count(entities):
    counter = df.EntityId("Counter", "concurrent")
    await asyncio.gather(*(entities.client.signal_entity(counter, "add", 1) for _ in range(300)))
    await _state_when(entities.client, counter, 300)
    # Batched: far fewer batches than operations, and nothing left queued.
    record = entities.engine.entity_records["@counter@concurrent"]
    assert record.queue == []


async def test_concurrent_signals_from_the_http_api_and_orchestrators(entities):
    async with httpx.AsyncClient(base_url=entities.base_url) as http:
        posts = [
            http.post(f"{WEBHOOK}/entities/Counter/mixed", params={"op": "add", **KEY}, json=2)
            for _ in range(100)
        ]
        starts = [
            entities.client.start_new("signal_and_finish", client_input="mixed") for _ in range(20)
        ]
        responses, instance_ids = await asyncio.gather(
            asyncio.gather(*posts), asyncio.gather(*starts)
        )
    assert {r.status_code for r in responses} == {202}
    assert all(r.content == b"" for r in responses)
    for instance_id in instance_ids:
        status = await wait_for_status(entities.client, instance_id)
        assert status.output == "sent"
    await _state_when(entities.client, df.EntityId("Counter", "mixed"), 100 * 2 + 20 * 5)


async def test_orchestrator_signals_then_calls_and_sees_its_own_signals(entities):
    instance_id = await entities.client.start_new(
        "count_with_entity", client_input={"key": "orch", "signals": 7}
    )
    status = await wait_for_status(entities.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed, status.output
    assert status.output == {"total": 7, "both": [7, 1]}
    history = (await entities.client.get_status(instance_id, show_history=True)).historyEvents
    sent = [event for event in history if event["EventType"] == "EventSent"]
    assert [event["InstanceId"] for event in sent] == ["@counter@orch"] * 9 + ["@ledger@x"]


async def test_a_failing_operation_reaches_the_caller_as_an_exception(entities):
    instance_id = await entities.client.start_new("call_failing", client_input="bad")
    status = await wait_for_status(entities.client, instance_id)
    assert status.output == "caught: counter bad refuses"


async def test_entity_locking_fails_with_a_clear_error(entities):
    instance_id = await entities.client.start_new("critical_section", client_input="locked")
    status = await wait_for_status(entities.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert "no attribute 'lock'" in status.output
    assert "not available in the Durable Functions Python SDK" in status.output


async def test_read_state_through_the_sdk_client(entities):
    missing = await entities.client.read_entity_state(df.EntityId("Counter", "nobody"))
    assert (missing.entity_exists, missing.entity_state) == (False, None)
    ledger = df.EntityId("ledger", "books")
    for entry in ("a", "b", "c"):
        await entities.client.signal_entity(ledger, "add", entry)
    await _state_when(entities.client, ledger, {"entries": ["a", "b", "c"]})


async def test_entity_http_api_shapes_and_status_codes(entities):
    async with httpx.AsyncClient(base_url=entities.base_url, params=KEY) as http:
        missing = await http.get(f"{WEBHOOK}/entities/Counter/absent")
        assert missing.status_code == 404
        unknown = await http.post(f"{WEBHOOK}/entities/NoSuchEntity/k", params={"op": "add"})
        assert unknown.status_code == 404
        assert "NoSuchEntity" in unknown.json()["Message"]
        bad = await http.post(
            f"{WEBHOOK}/entities/Counter/k", params={"op": "add"}, content=b"{not json"
        )
        assert bad.status_code == 400
        for key in ("a", "b", "c"):
            accepted = await http.post(
                f"{WEBHOOK}/entities/Counter/{key}", params={"op": "add"}, json=10
            )
            assert accepted.status_code == 202
        await _state_when(entities.client, df.EntityId("Counter", "c"), 10)
        await _state_when(entities.client, df.EntityId("Counter", "a"), 10)
        await _state_when(entities.client, df.EntityId("Counter", "b"), 10)
        state = await http.get(f"{WEBHOOK}/entities/counter/b")
        assert state.status_code == 200
        assert state.headers["content-type"].startswith("application/json")
        assert state.json() == 10

        first = await http.get(
            f"{WEBHOOK}/entities/Counter", params={"top": 2, "fetchState": "true"}
        )
        assert first.status_code == 200
        assert [item["entityId"] for item in first.json()] == [
            {"name": "counter", "key": "a"},
            {"name": "counter", "key": "b"},
        ]
        assert [item["state"] for item in first.json()] == [10, 10]
        assert all(item["lastOperationTime"].endswith("Z") for item in first.json())
        token = first.headers["x-ms-continuation-token"]
        rest = await http.get(
            f"{WEBHOOK}/entities/Counter",
            params={"top": 2},
            headers={"x-ms-continuation-token": token},
        )
        assert [item["entityId"]["key"] for item in rest.json()] == ["c"]
        assert "state" not in rest.json()[0]
        assert "x-ms-continuation-token" not in rest.headers

        deleted = await http.post(f"{WEBHOOK}/entities/Counter/a", params={"op": "delete"})
        assert deleted.status_code == 202
        deadline = asyncio.get_running_loop().time() + 10
        while (await http.get(f"{WEBHOOK}/entities/Counter/a")).status_code != 404:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        listed = await http.get(f"{WEBHOOK}/entities")
        assert [item["entityId"]["key"] for item in listed.json()] == ["b", "c"]


async def test_entity_state_and_queued_operations_survive_a_restart(serve_engine, tmp_path: Path):
    db_path = tmp_path / "entities.sqlite3"
    first = await serve_engine("durable_entities", db_path=db_path)
    counter = df.EntityId("Counter", "kept")
    for _ in range(5):
        await first.client.signal_entity(counter, "add", 3)
    await _state_when(first.client, counter, 15)
    await first.engine.stop()

    second = await serve_engine("durable_entities", db_path=db_path)
    await _state_when(second.client, counter, 15)
    await second.client.signal_entity(counter, "add", 1)
    await _state_when(second.client, counter, 16)


@pytest.mark.slow
def test_sigkill_mid_batch_reruns_the_batch_and_counts_each_operation_once(tmp_path: Path):
    markers = tmp_path / "markers"
    markers.mkdir()
    env = {"ENTITY_MARKER_DIR": str(markers)}
    with start_devhost(APPS / "durable_entities", env=env) as devhost:
        webhook = devhost.url(f"{WEBHOOK}/entities/slow_counter/k")
        for amount in range(1, 11):  # each accepted signal is committed before its 202
            response = httpx.post(
                webhook, params={"op": "add"}, json=amount, headers=devhost.durable_headers
            )
            assert response.status_code == 202, response.text
        runs = markers / "runs.log"
        deadline = time.monotonic() + 20
        while not runs.exists() or not runs.read_text().endswith("\n"):
            assert time.monotonic() < deadline, devhost.output
            time.sleep(0.02)
        devhost.kill()  # SIGKILL while the first operation of a batch is running
        killed_runs = runs.read_text().splitlines()
        devhost.restart()
        (markers / "release").touch()
        deadline = time.monotonic() + 30
        while True:
            state = httpx.get(webhook, headers=devhost.durable_headers)
            if state.status_code == 200 and state.json() == sum(range(1, 11)):
                break
            assert time.monotonic() < deadline, (state.status_code, state.text, devhost.output)
            time.sleep(0.05)
    runs_after = runs.read_text().splitlines()
    # The interrupted operation ran again in the new process (at-least-once delivery) ...
    assert killed_runs[0].split(" in pid ")[0] == "1"
    assert runs_after.count(killed_runs[0]) == 1
    assert [line.split(" in pid ")[0] for line in runs_after].count("1") == 2
    # ... and the state counted every operation exactly once: 55, as checked above.


@pytest.mark.slow
def test_http_functions_signal_and_read_an_entity_through_the_sdk_client_under_devhost():
    with start_devhost(APPS / "durable_entities") as devhost:
        missing = httpx.get(devhost.url("/api/counters/served"))
        assert missing.status_code == 200, devhost.output
        assert missing.json() == {"exists": False, "state": None}
        for _ in range(4):
            response = httpx.post(devhost.url("/api/counters/served/add"), json=4)
            assert response.status_code == 202, devhost.output
        deadline = time.monotonic() + 20
        while (body := httpx.get(devhost.url("/api/counters/served")).json())["state"] != 16:
            assert time.monotonic() < deadline, (body, devhost.output)
            time.sleep(0.02)
        assert body == {"exists": True, "state": 16}


async def test_a_replay_that_sends_to_another_entity_fails_as_non_deterministic(entities):
    instance_id = await entities.client.start_new("signal_then_wait")
    await wait_for_status(entities.client, instance_id, "Running")
    await _state_when(entities.client, df.EntityId("Counter", "first"), 1)
    entities.module.SIGNAL_TARGET["key"] = "second"
    await entities.client.raise_event(instance_id, "go", None)
    status = await wait_for_status(entities.client, instance_id)
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert "Non-Deterministic workflow detected" in status.output
    assert "'add' to entity '@counter@first'" in status.output
    assert "@counter@second" in status.output


async def test_a_batch_runs_in_the_sdk_executor_with_one_result_per_operation():
    from devhost.durable.entity_batch import run_batch
    from devhost.durable.entity_store import EntityRecord

    from .conftest import load_app

    handle = load_app("durable_entities").app.get_functions()
    counter = next(f for f in handle if f.get_function_name() == "Counter").get_user_function()
    record = EntityRecord("@counter@unit", "counter", "unit", exists=True, state="40")
    requests = [
        {"id": "1", "op": "add", "signal": True, "input": "2"},
        {"id": "2", "op": "fail", "signal": False, "input": None},
        {"id": "3", "op": "get", "signal": False, "input": None},
    ]
    outcome = run_batch(counter, record, requests)
    assert outcome.exists and outcome.state == "42"
    assert [r.is_error for r in outcome.results] == [False, True, False]
    assert outcome.results[1].result == '"counter unit refuses"'
    assert outcome.results[2].result == "42"
