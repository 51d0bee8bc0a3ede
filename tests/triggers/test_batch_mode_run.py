"""A batch-mode run end to end in process: the HTTP trigger, the durable engine (time skipping),
the batch-mode activities over an in-process Batch API, the simulator for the interactive
fallback; then the orchestration's history replayed twice to the same actions and output."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from azure.durable_functions.models.utils import http_utils

from agentops import bootstrap
from agentops.agents.batch_rounds import BatchRounds
from agentops.bootstrap import Services, build_services
from agentops.model.batch_files import FileLimits
from agentops.model.batch_memory import MemoryBatchApi
from agentops.model.pricing import PriceTable
from agentops.runs.batch_mode_service import BatchModeService
from agentops.settings import Settings
from devhost.durable import DurableEngine
from devhost.durable.history import EventType, scheduled_ids, scheduled_signature
from devhost.durable.replay import run_episode
from devhost.invoke import InvocationContext
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background
from devhost.trace_context import InvocationTrace
from tests.agentops.model.test_request_body import RecordingModel
from tests.durable_server import served_engine
from tests.e2e.conftest import app_functions, principal_headers
from tests.triggers.http_requests import http_request
from triggers.http import HttpResponse

REPO = Path(__file__).resolve().parents[2]
MODEL_KEY = "sk-sim-5b1e"
FUNCTION_KEY = "fk-batch-2c7d"
DURABLE_KEY = "dsk-batch-9e4f"
PRINCIPAL = principal_headers("acme", "user-batch", "runs.write")


@dataclass
class App:
    services: Services
    engine: DurableEngine
    functions: dict[str, Any]
    api: MemoryBatchApi

    async def call(self, name: str, method: str, path: str, **kw: Any) -> HttpResponse:
        headers = {**PRINCIPAL, "x-functions-key": FUNCTION_KEY}
        request = http_request(
            method,
            f"http://127.0.0.1:7071{path}",
            headers=headers,
            params={},
            route_params=kw.pop("route_params", {}),
            body=json.dumps(kw.pop("body")).encode() if "body" in kw else b"",
        )
        context = InvocationContext(
            str(uuid.uuid4()), name, "", InvocationTrace.from_headers(headers)
        )
        return await self.functions[name](
            req=request, client=self.engine.client_binding_json(), context=context
        )


def _respond(body: dict[str, Any]) -> dict[str, Any]:
    request = httpx2.Request("POST", "http://model.test/v1/chat/completions", json=body)
    return RecordingModel(tool="add")(request).json()


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig(api_key=MODEL_KEY)) as running:
        yield running


@pytest.fixture
async def app(tmp_path: Path, sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The shipped agents: the calculator and the summarizer take batch runs, triage does not.
    agents = REPO / "agents.yaml"
    settings = Settings(
        store="sqlite",
        sqlite_path=tmp_path / "agentops.db",
        blob_root=tmp_path / "blobs",
        agents_file=agents,
        model_endpoint=sim.url,
        model_api_key=MODEL_KEY,
        website_auth_enabled=True,
        tenant_requests_per_minute=0,
        user_requests_per_minute=0,
    )
    built = build_services(settings)
    api = MemoryBatchApi(respond=_respond, fail=lambda label, cid: cid == "3")
    await built.batch_mode.aclose()
    services = dataclasses.replace(
        built,
        batch_mode=BatchModeService(
            built.store,
            built.agents,
            BatchRounds(built.agents),
            api,
            PriceTable(),
            built.blobs,
            container="batch-rounds",
            limits=FileLimits(max_requests=4),
            # Room for one file's prompt at a time: the others wait, uploaded.
            enqueued_tokens={"*": 1},
        ),
    )
    monkeypatch.setattr(bootstrap, "_services", services)
    functions = {f.get_function_name(): f.get_user_function() for f in app_functions()}
    engine = DurableEngine(
        list(app_functions()),
        db_path=tmp_path / "durable.sqlite3",
        task_hub="BatchHub",
        max_concurrent_activities=4,
        max_concurrent_orchestrators=2,
        time_skipping=True,
    )
    await engine.start()
    async with served_engine(engine, DURABLE_KEY):
        try:
            yield App(services, engine, functions, api)
        finally:
            await engine.stop()
            await services.aclose()
            await http_utils._close_session()


async def test_a_batch_mode_run_with_tools_and_a_failed_line(app: App) -> None:
    queries = [f"What is {n} + 2?" for n in range(10)]
    started = await app.call(
        "start_run",
        "POST",
        "/api/agents/calculator/runs",
        route_params={"agent": "calculator"},
        body={"queries": queries, "options": {"mode": "batch", "fallback": True}},
    )
    assert started.status_code == 202, started.body
    run_id = json.loads(started.body)["runId"]
    instance = await app.engine.wait_for_terminal(run_id, 60)
    assert instance.status == "Completed", instance.output
    items = await app.services.store.get_items(run_id, range(10))
    assert {str(item.status) for item in items} == {"completed"}
    by_index = {item.index: item for item in items}
    # Item 3 failed in its batch and was answered through the interactive path (simulator).
    assert all(by_index[i].answer == "Answer to 4." for i in range(10) if i != 3)
    assert by_index[3].answer and by_index[3].answer != "Answer to 4."
    full = PriceTable().cost(by_index[0].usage, "gpt-4o-mini")
    assert by_index[0].cost == pytest.approx(full / 2)
    # 10 items in files of 4: 3 files in round 1, 3 again for the tool results (item 3 gone).
    assert (app.api.calls["upload"], app.api.calls["create"]) == (6, 6)
    assert app.api.most_open == 1  # within the enqueued-token limit, one batch at a time
    history = app.engine.instances[run_id].history or []
    started = [e for e in history if e.get("Name") == "start_batches"]
    assert len(started) >= 4, "queued files were started as earlier batches ended"
    status = instance.custom_status and json.loads(instance.custom_status)
    assert status and status["mode"] == "batch" and status["pending"] == 0
    viewed = await app.call(
        "get_run", "GET", f"/api/runs/{run_id}", route_params={"run_id": run_id}
    )
    view = json.loads(viewed.body)
    # Nine items at half price, one interactive at full price: next to what all ten would cost.
    assert view["mode"] == "batch"
    assert 0 < view["cost"] < view["interactiveCost"]

    outcomes = [
        run_episode(
            app.functions["agent_batch"],
            instance_id=run_id,
            parent_instance_id=None,
            input_text=app.engine.instances[run_id].input,
            history=history,
            known_ids=scheduled_ids(history),
            child_id_prefix=run_id,
        )
        for _ in range(2)
    ]
    for outcome in outcomes:
        assert outcome.new_tasks == []
        assert outcome.signature == scheduled_signature(history)
        assert outcome.output == app.engine.instances[run_id].output
    timers = [e for e in history if e["EventType"] == EventType.TIMER_CREATED]
    # Each batch moves one state per poll: three polls a round, each after a durable timer.
    assert len(timers) >= 6, "the batches were polled on durable timers"


async def test_batch_mode_is_refused_for_an_agent_that_does_not_allow_it(app: App) -> None:
    refused = await app.call(
        "start_run",
        "POST",
        "/api/agents/triage/runs",
        route_params={"agent": "triage"},
        body={"queries": ["q"], "options": {"mode": "batch"}},
    )
    assert refused.status_code == 409
    assert json.loads(refused.body)["type"].endswith("batch-not-allowed")


async def test_cancel_cancels_the_providers_batches(app: App) -> None:
    app.api.hold = True
    started = await app.call(
        "start_run",
        "POST",
        "/api/agents/summarizer/runs",
        route_params={"agent": "summarizer"},
        body={"queries": [f"Text {n}." for n in range(6)], "options": {"mode": "batch"}},
    )
    run_id = json.loads(started.body)["runId"]
    for _ in range(500):
        instance = app.engine.instances.get(run_id)
        progress = instance.custom_status if instance else None
        if isinstance(progress, str):
            progress = json.loads(progress)
        if progress and any(b["status"] == "in_progress" for b in progress.get("batches", [])):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("the run's batches never showed as in progress")
    viewed = await app.call(
        "get_run", "GET", f"/api/runs/{run_id}", route_params={"run_id": run_id}
    )
    view = json.loads(viewed.body)
    # Two files; room for one at a time: the second waits, uploaded, with no batch yet.
    shown = [(b["id"], b["status"]) for b in view["progress"]["batches"]]
    assert view["mode"] == "batch" and shown == [("batch_0", "in_progress"), ("", "queued")]
    canceled = await app.call(
        "cancel_run", "POST", f"/api/runs/{run_id}/cancel", route_params={"run_id": run_id}
    )
    assert canceled.status_code == 202
    assert {b.state.status for b in app.api.batches.values()} == {"cancelling"}
    assert app.api.calls["cancel"] == 1
