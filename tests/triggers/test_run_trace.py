"""One trace per run, in process: the app's HTTP functions, its orchestrator and activities on
devhost's durable engine, the services and the model simulator, with spans in memory.

The request comes with a caller's ``traceparent``. Every span of the run (the request's server
span, each activity execution, each item, Agent Framework's model and tool spans) must be in
that trace and hang together, and nothing secret (query text, keys, the user's id) may be in
any span's name, attributes, events or status.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.durable_functions.models.utils import http_utils
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

from agentops import bootstrap
from agentops.bootstrap import Services, build_services
from agentops.settings import Settings
from devhost.durable import DurableEngine
from devhost.durable.history import EventType, scheduled_ids, scheduled_signature
from devhost.durable.replay import run_episode
from devhost.invoke import InvocationContext
from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import RunningSimulator, serve_in_background
from devhost.trace_context import InvocationTrace
from tests.durable_server import served_engine
from tests.e2e.conftest import app_functions, principal_headers
from tests.telemetry_capture import CapturedTelemetry
from tests.triggers.http_requests import http_request
from triggers.http import HttpResponse

pytestmark = pytest.mark.timeout(60)

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
# Known secrets: none may reach a span.
MODEL_KEY = "sk-sim-7d0c4f9e2b81a6"
FUNCTION_KEY = "fk-3e9a0d17c2b45f68"
USER_ID = "user-5c2e91ab7f"
DURABLE_KEY = "dsk-8a41e07b3c9d25"
PRINCIPAL = principal_headers("acme", USER_ID, "runs.write")
SECRET_WORD = "nightjar"
QUERIES = [f"add {n} and {n + 2} for the {SECRET_WORD} memo" for n in range(5)]


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve_in_background(SimulatorConfig()) as running:
        yield running


@pytest.fixture
def agent_framework_spans() -> Iterator[None]:
    """Agent Framework's instrumentation on, as `agentops.telemetry` turns it on with a
    provider (content capture off), and back as it was afterwards."""
    from agent_framework.observability import OBSERVABILITY_SETTINGS

    before = (
        OBSERVABILITY_SETTINGS.enable_instrumentation,
        OBSERVABILITY_SETTINGS.enable_sensitive_data,
    )
    OBSERVABILITY_SETTINGS.enable_sensitive_data = False
    OBSERVABILITY_SETTINGS.enable_instrumentation = True
    yield
    (
        OBSERVABILITY_SETTINGS.enable_instrumentation,
        OBSERVABILITY_SETTINGS.enable_sensitive_data,
    ) = before


@dataclass
class App:
    services: Services
    engine: DurableEngine
    functions: dict[str, Any]

    async def call(
        self, name: str, method: str, path: str, route_params: dict[str, str], **kw: Any
    ) -> HttpResponse:
        headers = {
            **PRINCIPAL,
            "x-functions-key": FUNCTION_KEY,
            **kw.pop("headers", {}),
        }
        request = http_request(
            method,
            f"http://127.0.0.1:7071{path}",
            headers=headers,
            params=kw.pop("params", {}),
            route_params=route_params,
            body=json.dumps(kw.pop("body")).encode() if "body" in kw else b"",
        )
        trace = InvocationTrace.from_headers(headers)  # as devhost and Azure give it
        context = InvocationContext(str(uuid.uuid4()), name, "", trace)
        handler = self.functions[name]
        return await handler(req=request, client=self.engine.client_binding_json(), context=context)


@pytest.fixture
async def app(
    tmp_path: Path,
    sim: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    captured_telemetry: CapturedTelemetry,
) -> AsyncIterator[App]:
    settings = Settings(
        store="sqlite",
        sqlite_path=tmp_path / "agentops.db",
        model_endpoint=sim.url,
        model_api_key=MODEL_KEY,
        website_auth_enabled=True,
        tenant_requests_per_minute=0,
        user_requests_per_minute=0,
        inline_retry_max_wait_s=0,
        chunk_size=10,  # a run of more items is split into sub-orchestrations
    )
    services = build_services(settings)
    monkeypatch.setattr(bootstrap, "_services", services)
    functions = {f.get_function_name(): f.get_user_function() for f in app_functions()}
    engine = DurableEngine(
        list(app_functions()),
        db_path=tmp_path / "durable.sqlite3",
        task_hub="TraceHub",
        max_concurrent_activities=4,
        max_concurrent_orchestrators=2,
        time_skipping=True,
    )
    await engine.start()
    async with served_engine(engine, DURABLE_KEY):
        try:
            yield App(services, engine, functions)
        finally:
            await engine.stop()
            await services.aclose()
            await http_utils._close_session()


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    parent = span.parent
    while parent is not None and parent.span_id in by_id:
        above = by_id[parent.span_id]
        names.append(above.name)
        parent = above.parent
    return names


def _texts(span: ReadableSpan) -> list[str]:
    """Everything a span says, as text."""
    found = [span.name, span.status.description or ""]
    found += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
    for event in span.events:
        found += [event.name, *(f"{k}={v}" for k, v in (event.attributes or {}).items())]
    for link in span.links:
        found += [f"{k}={v}" for k, v in (link.attributes or {}).items()]
    return found


async def test_a_run_is_one_trace_from_the_request_to_each_model_and_tool_call(
    app: App, captured_telemetry: CapturedTelemetry, agent_framework_spans: None
) -> None:
    caller = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    started = await app.call(
        "start_run",
        "POST",
        "/api/agents/calculator/runs",
        {"agent": "calculator"},
        body={"queries": QUERIES, "options": {"batch_size": 2, "max_in_flight": 2}},
        headers={"traceparent": caller},
    )
    assert started.status_code == 202, started.body
    run_id = json.loads(started.body)["runId"]
    instance = await app.engine.wait_for_terminal(run_id, 30)
    assert instance.status == "Completed"
    read = await app.call("get_run", "GET", f"/api/runs/{run_id}", {"run_id": run_id})
    view = json.loads(read.body)
    assert view["status"] == "completed" and view["counts"]["completed"] == len(QUERIES)

    spans = captured_telemetry.spans()
    run_spans = [s for s in spans if not s.name.startswith("GET ")]
    (request,) = [s for s in run_spans if s.kind is SpanKind.SERVER]
    assert request.name == "POST /api/agents/{agent}/runs"
    assert request.attributes["http.route"] == "/api/agents/{agent}/runs"
    assert request.attributes["http.response.status_code"] == 202
    assert request.attributes["agentops.outcome"] == "success"
    # The caller's trace, the caller's span as the parent; and the run keeps that trace id.
    assert format_trace_id(request.context.trace_id) == CALLER_TRACE == view["traceId"]
    assert request.parent is not None and format_span_id(request.parent.span_id) == CALLER_SPAN

    names = [s.name for s in run_spans]
    assert names.count("activity run_agent_batch") >= 3  # 5 items, 2 per batch
    assert names.count("activity finalize_run") == 1
    assert names.count("run item") == len(QUERIES)
    chats = [s for s in run_spans if s.name.startswith("chat ")]
    tools = [s for s in run_spans if s.name.startswith("execute_tool ")]
    assert len(chats) >= len(QUERIES) and len(tools) >= len(QUERIES)
    assert {format_trace_id(s.context.trace_id) for s in run_spans} == {CALLER_TRACE}

    by_id = {s.context.span_id: s for s in spans}
    for item in (s for s in run_spans if s.name == "run item"):
        assert _ancestors(item, by_id)[0] == "activity run_agent_batch"
        assert item.attributes["agentops.run.id"] == run_id
        assert item.attributes["agentops.outcome"] == "completed"
        assert item.attributes["agentops.item.attempt"] == 1
    for call in chats + tools:
        assert "run item" in _ancestors(call, by_id)
    for activity in (s for s in run_spans if s.name.startswith("activity ")):
        assert _ancestors(activity, by_id)[0] == request.name

    said = "\n".join(text for s in spans for text in _texts(s))
    assert run_id in said  # the scan reads what the spans say
    secrets = (SECRET_WORD, MODEL_KEY, FUNCTION_KEY, DURABLE_KEY, USER_ID, *PRINCIPAL.values())
    for secret in (*secrets, *QUERIES):
        assert secret not in said


async def test_a_request_without_a_traceparent_starts_the_runs_trace(
    app: App, captured_telemetry: CapturedTelemetry
) -> None:
    started = await app.call(
        "start_run",
        "POST",
        "/api/agents/summarizer/runs",
        {"agent": "summarizer"},
        body={"queries": ["a short text"]},
    )
    run_id = json.loads(started.body)["runId"]
    await app.engine.wait_for_terminal(run_id, 30)
    read = await app.call("get_run", "GET", f"/api/runs/{run_id}", {"run_id": run_id})
    trace_id = json.loads(read.body)["traceId"]
    run_spans = [s for s in captured_telemetry.spans() if not s.name.startswith("GET ")]
    assert {format_trace_id(s.context.trace_id) for s in run_spans} == {trace_id}
    assert {"activity run_agent_batch", "activity finalize_run", "run item"} <= {
        s.name for s in run_spans
    }


async def test_the_orchestrator_copies_the_context_into_every_activity_and_replays_the_same(
    app: App, captured_telemetry: CapturedTelemetry
) -> None:
    caller = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    started = await app.call(
        "start_run",
        "POST",
        "/api/agents/summarizer/runs",
        {"agent": "summarizer"},
        # Twelve items: two sub-orchestrations, which carry the context on too.
        body={"queries": [f"text {n}" for n in range(12)], "options": {"batch_size": 4}},
        headers={"traceparent": caller},
    )
    run_id = json.loads(started.body)["runId"]
    assert (await app.engine.wait_for_terminal(run_id, 30)).status == "Completed"
    (request,) = [s for s in captured_telemetry.spans() if s.kind is SpanKind.SERVER]
    server_span = format_span_id(request.context.span_id)

    instances = [app.engine.instances[run_id]]
    instances += [app.engine.instances[f"{run_id}:chunk:{n}"] for n in range(2)]
    for instance in instances:
        history = instance.history or []
        (spec,) = [e for e in history if e["EventType"] == EventType.EXECUTION_STARTED]
        carrier = json.loads(spec["Input"])["trace"]
        assert carrier["traceparent"] == f"00-{CALLER_TRACE}-{server_span}-01"
        inputs = [json.loads(e["Input"]) for e in history if e.get("Name") in _ACTIVITIES]
        assert inputs and all(given["trace"] == carrier for given in inputs)
        # Replayed from its history, twice: the same actions, nothing new, the same output.
        outcomes = [
            run_episode(
                app.functions["agent_batch"],
                instance_id=instance.instance_id,
                parent_instance_id=instance.parent_instance_id,
                input_text=instance.input,
                history=history,
                known_ids=scheduled_ids(history),
                child_id_prefix=instance.instance_id,
            )
            for _ in range(2)
        ]
        for outcome in outcomes:
            assert outcome.new_tasks == []
            assert outcome.signature == scheduled_signature(history)
            assert outcome.output == instance.output


_ACTIVITIES = {"run_agent_batch", "finalize_run"}


def test_the_openapi_document_describes_the_runs_trace_id() -> None:
    from triggers.openapi import openapi_document

    schema = json.loads(openapi_document("http://127.0.0.1:7071"))["components"]["schemas"]
    trace_id = schema["RunView"]["properties"]["traceId"]
    assert "traceId" in schema["RunView"]["required"]  # always present, null outside a trace
    assert {"type": "string", "pattern": "^[0-9a-f]{32}$"} in trace_id["anyOf"]
    assert "trace" in trace_id["description"]
