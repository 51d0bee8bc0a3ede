"""HTTP request metrics through the app's real route functions (as the host indexes them), with
the real services over SQLite and the model simulator: the route template, never the path; the
agent only when the route names a declared one; an error per answer of 400 and above."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from azure.durable_functions.models.DurableOrchestrationStatus import (
    DurableOrchestrationStatus,
)
from pydantic import SecretStr

from agentops.bootstrap import Services
from agentops.request_naming import UNMATCHED_ROUTE, route_template
from tests.e2e.conftest import app_functions, principal_headers
from tests.metric_checks import assert_no_value_holds, assert_within_registry, attribute_sets
from tests.telemetry_capture import CapturedTelemetry
from tests.triggers.http_requests import http_request
from tests.triggers.installed_services import installed_services
from triggers.http import HttpResponse, StreamingResponse

USER_ID = "user-0c7d51e2a9"
HEADERS = principal_headers("acme", USER_ID, "runs.write")
MODEL_KEY = "sk-request-scan-77a1d3"
SECRET_TEXT = "the merger memo for grace.hopper@example.com, codename kestrel"
GHOST_AGENT = "ghost-agent-5e1b"
UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"


class _Engine:
    """The durable client calls these routes make, answering as the Durable HTTP API does."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.broken = False

    async def start_new(self, name: str, instance_id: str, client_input: Any = None) -> str:
        self.started.append(instance_id)
        return instance_id

    async def get_status(self, instance_id: str) -> DurableOrchestrationStatus:
        if self.broken:
            raise RuntimeError("the task hub is unreachable")
        times = {"createdTime": "2026-12-06T10:00:00Z", "lastUpdatedTime": "2026-12-06T10:00:01Z"}
        return DurableOrchestrationStatus.from_json(
            {**times, "name": "agent_batch", "instanceId": instance_id, "runtimeStatus": "Running"}
        )


@pytest.fixture
async def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Services]:
    async with installed_services(
        tmp_path, monkeypatch, model_api_key=SecretStr(MODEL_KEY)
    ) as built:
        yield built


ROUTES = {function.get_function_name(): function for function in app_functions()}


def _template(function: str) -> str:
    (route,) = [b.route for b in ROUTES[function].get_bindings() if getattr(b, "route", None)]
    return f"/api/{route}"


async def _call(
    function: str,
    method: str,
    route_params: dict[str, str],
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    **bindings: Any,
) -> HttpResponse:
    """Call the route function as the host does: the path filled from its template."""
    path = _template(function)
    for name, value in route_params.items():
        path = path.replace("{" + name + "}", value)
    req = http_request(
        method,
        f"https://agentops.example.net{path}",
        headers={**HEADERS, **(headers or {})},
        route_params=route_params,
        body=body,
    )
    route = ROUTES[function].get_user_function()
    # Past the Durable SDK's wrapper, which would build a client from the host's JSON binding.
    route = getattr(route, "__wrapped__", route)
    return await route(req=req, context=None, **bindings)


async def test_a_streamed_answer_is_counted_and_audited_when_its_last_event_is_sent(
    services: Services, captured_telemetry: CapturedTelemetry
) -> None:
    question = json.dumps({"query": "a streamed question"}).encode()
    accept = {"accept": "text/event-stream"}
    response = await _call("ask_agent", "POST", {"agent": "summarizer"}, question, accept)
    assert isinstance(response, StreamingResponse) and response.status_code == 200
    await services.audit.flush()
    assert captured_telemetry.points("agent.requests.total") == []
    assert (await services.store.list_audit("acme")).items == []

    events = [chunk async for chunk in response.body_iterator]
    assert events[-1].startswith(b"event: done")
    await services.audit.flush()
    (duration,) = captured_telemetry.points("agent.request.duration")
    assert duration.count == 1 and duration.attributes["http.response.status_code"] == 200
    (entry,) = (await services.store.list_audit("acme")).items
    assert entry.action == "thread.write" and entry.details["streamed"] is True
    assert "left" not in entry.details


async def test_a_caller_that_leaves_a_streamed_answer_is_noted_in_its_entry(
    services: Services, captured_telemetry: CapturedTelemetry
) -> None:
    question = json.dumps({"query": "a question left early"}).encode()
    accept = {"accept": "text/event-stream"}
    response = await _call("ask_agent", "POST", {"agent": "summarizer"}, question, accept)
    assert isinstance(response, StreamingResponse)
    body = response.body_iterator
    await anext(body)
    await body.aclose()  # as the server does when the caller disconnects
    await services.audit.flush()
    (entry,) = (await services.store.list_audit("acme")).items
    assert entry.details["left"] is True
    assert len(captured_telemetry.points("agent.requests.total")) == 1


async def test_requests_durations_and_errors_by_route_template_and_known_agent(
    services: Services, captured_telemetry: CapturedTelemetry
) -> None:
    engine = _Engine()
    queries = json.dumps({"queries": [SECRET_TEXT, "two"]}).encode()
    started = await _call("start_run", "POST", {"agent": "summarizer"}, queries, client=engine)
    assert started.status_code == 202
    (run_id,) = engine.started
    assert (await _call("get_run", "GET", {"run_id": run_id}, client=engine)).status_code == 200
    question = json.dumps({"query": SECRET_TEXT}).encode()
    asked = await _call("ask_agent", "POST", {"agent": "summarizer"}, question)
    assert asked.status_code == 200
    thread_id = json.loads(asked.body)["threadId"]
    ghost = await _call("ask_agent", "POST", {"agent": GHOST_AGENT}, question)
    assert ghost.status_code == 404
    unknown = await _call("get_run", "GET", {"run_id": UNKNOWN_RUN}, client=engine)
    assert unknown.status_code == 404
    engine.broken = True
    with pytest.raises(RuntimeError):  # the host answers 500
        await _call("get_run", "GET", {"run_id": run_id}, client=engine)

    runs, run, ask = _template("start_run"), _template("get_run"), _template("ask_agent")
    assert (runs, run, ask) == (
        "/api/agents/{agent}/runs",
        "/api/runs/{run_id}",
        "/api/agents/{agent}/run",
    )
    requests = captured_telemetry.points("agent.requests.total")
    seen = {
        (
            p.attributes["http.route"],
            p.attributes["http.request.method"],
            p.attributes["http.response.status_code"],
            p.attributes["outcome"],
            p.attributes.get("agent"),
            int(p.value),
        )
        for p in requests
    }
    assert seen == {
        (runs, "POST", 202, "success", "summarizer", 1),
        (run, "GET", 200, "success", None, 1),
        (ask, "POST", 200, "success", "summarizer", 1),
        (ask, "POST", 404, "client_error", None, 1),  # an unknown agent is not a value
        (run, "GET", 404, "client_error", None, 1),
        (run, "GET", 500, "server_error", None, 1),
    }
    durations = captured_telemetry.points("agent.request.duration")
    assert sum(p.count for p in durations) == 6
    assert all(p.unit == "ms" and p.value > 0 for p in durations)
    assert attribute_sets(durations) == attribute_sets(requests)

    errors = {
        (p.attributes["http.route"], p.attributes["error.type"], p.attributes.get("agent"))
        for p in captured_telemetry.points("agent.errors.total")
    }
    assert errors == {(ask, "unknown-agent", None), (run, "unknown-run", None), (run, "5xx", None)}

    points = captured_telemetry.points()
    assert_within_registry(points)
    assert_no_value_holds(
        points,
        [SECRET_TEXT, "kestrel", run_id, thread_id, UNKNOWN_RUN, GHOST_AGENT, USER_ID, MODEL_KEY],
    )


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        ("http://h/api/runs/abc123?limit=5", {"run_id": "abc123"}, "/api/runs/{run_id}"),
        ("http://h/API/Runs/abc/Cancel", {"run_id": "abc"}, "/api/runs/{run_id}/cancel"),
        # An agent named like the literal after it keeps the literal in its place.
        ("http://h/api/agents/runs/runs", {"agent": "runs"}, "/api/agents/{agent}/runs"),
        ("http://h/api/agents/a%2Fb/run", {"agent": "a/b"}, "/api/agents/{agent}/run"),
        (
            "http://h/api/backups/x/restores/x",
            {"backup_id": "x", "restore_id": "x"},
            "/api/backups/{backup_id}/restores/{restore_id}",
        ),
        # A value that fills no whole segment: no path leaks through.
        ("http://h/api/files/a/b/c", {"rest": "a/b/c"}, UNMATCHED_ROUTE),
    ],
)
def test_the_route_template_names_each_parameter_and_never_holds_a_value(
    url: str, params: dict[str, str], expected: str
) -> None:
    assert route_template(url, params) == expected
