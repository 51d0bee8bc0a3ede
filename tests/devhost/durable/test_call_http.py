"""context.call_http through the engine, against a small HTTP server on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from devhost.testing import free_port

from .conftest import wait_for_status

pytestmark = pytest.mark.timeout(30)


@dataclass
class Remote:
    """The API the orchestrations call: it records what it was sent."""

    base_url: str = ""
    requests: list[dict[str, object]] = field(default_factory=list)
    polls: int = 0


def _remote_app(remote: Remote) -> Starlette:
    async def echo(request: Request) -> Response:
        body = (await request.body()).decode()
        remote.requests.append(
            {"method": request.method, "x-caller": request.headers.get("x-caller"), "body": body}
        )
        return JSONResponse({"got": body}, status_code=201, headers={"x-answer": "yes"})

    async def start_job(request: Request) -> Response:
        # The asynchronous pattern: accepted, come back to Location after Retry-After seconds.
        return Response(status_code=202, headers={"Location": "/jobs/7", "Retry-After": "30"})

    async def job(request: Request) -> Response:
        remote.polls += 1
        remote.requests.append(
            {"method": request.method, "x-caller": request.headers.get("x-caller")}
        )
        if remote.polls < 3:
            return Response(status_code=202, headers={"Location": "/jobs/7"})  # default wait
        return JSONResponse({"job": 7, "state": "done"})

    async def accepted_nowhere(request: Request) -> Response:
        return PlainTextResponse("queued", status_code=202)  # no Location: nothing to poll

    async def missing(request: Request) -> Response:
        return PlainTextResponse("no such thing", status_code=404)

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["POST", "PUT"]),
            Route("/jobs", start_job, methods=["POST"]),
            Route("/jobs/7", job, methods=["GET"]),
            Route("/accepted", accepted_nowhere, methods=["POST"]),
            Route("/missing", missing, methods=["GET"]),
        ]
    )


@pytest.fixture
async def remote() -> AsyncIterator[Remote]:
    state = Remote()
    server = uvicorn.Server(
        uvicorn.Config(_remote_app(state), host="127.0.0.1", port=0, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: show why
        await asyncio.sleep(0.005)
    state.base_url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield state
    server.should_exit = True
    await task


@pytest.fixture
async def http_calls(serve_engine):
    return await serve_engine("durable_http_calls")


async def _run(served, name: str, payload: object) -> object:
    instance_id = await served.client.start_new(name, client_input=payload)
    return await wait_for_status(served.client, instance_id)


async def test_a_call_returns_status_headers_and_content(http_calls, remote):
    status = await _run(
        http_calls,
        "fetch",
        {
            "method": "POST",
            "url": f"{remote.base_url}/echo",
            "content": {"order": 1},
            "headers": {"x-caller": "orchestrator"},
        },
    )
    assert status.runtime_status == OrchestrationRuntimeStatus.Completed, status.output
    response = status.output["response"]
    assert response["statusCode"] == 201
    assert response["headers"]["x-answer"] == "yes"
    assert response["content"] == '{"got":"{\\"order\\": 1}"}'
    assert remote.requests == [
        {"method": "POST", "x-caller": "orchestrator", "body": '{"order": 1}'}
    ]
    history = http_calls.engine.instances[status.instance_id].history
    assert [e.get("Name") for e in history if e["EventType"] == 4] == ["BuiltIn::HttpActivity"]


async def test_a_202_with_location_is_polled_until_done_without_waiting(http_calls, remote):
    started = time.monotonic()
    status = await _run(
        http_calls,
        "fetch",
        {"method": "POST", "url": f"{remote.base_url}/jobs", "headers": {"x-caller": "o"}},
    )
    response = status.output["response"]
    assert response["statusCode"] == 200
    assert response["content"] == '{"job":7,"state":"done"}'
    assert remote.polls == 3
    assert [r["method"] for r in remote.requests] == ["GET", "GET", "GET"]
    assert all(r["x-caller"] == "o" for r in remote.requests)  # polls keep the headers
    # Retry-After 30 s, then the default 30 s twice: engine time moved, the wall clock did not.
    assert status.output["waited"] >= 90
    assert time.monotonic() - started < 5


async def test_a_202_without_location_and_an_error_status_are_results(http_calls, remote):
    accepted = await _run(
        http_calls, "fetch", {"method": "POST", "url": f"{remote.base_url}/accepted"}
    )
    assert accepted.output["response"]["statusCode"] == 202
    assert accepted.output["response"]["content"] == "queued"
    missing = await _run(
        http_calls, "fetch", {"method": "GET", "url": f"{remote.base_url}/missing"}
    )
    assert missing.runtime_status == OrchestrationRuntimeStatus.Completed
    assert missing.output["response"]["statusCode"] == 404


async def test_no_answer_fails_the_task_with_the_reason(http_calls):
    url = f"http://127.0.0.1:{free_port()}/gone"
    status = await _run(http_calls, "fetch", {"method": "GET", "url": url})
    assert status.runtime_status == OrchestrationRuntimeStatus.Failed
    assert f"call_http GET {url} failed: ConnectError" in status.output


async def test_a_managed_identity_token_source_is_refused_loudly(http_calls, remote):
    status = await _run(http_calls, "fetch_with_identity", f"{remote.base_url}/missing")
    assert status.output.startswith("caught: ")
    assert "token source (managed identity token for https://management.core.windows.net/)" in (
        status.output
    )
    assert "not supported by devhost" in status.output
    assert remote.requests == []


async def test_polls_without_retry_after_wait_the_configured_interval(serve_engine, remote):
    served = await serve_engine("durable_http_calls", http_poll_interval_ms=5_000)
    status = await _run(served, "fetch", {"method": "POST", "url": f"{remote.base_url}/jobs"})
    assert status.output["response"]["statusCode"] == 200
    # Retry-After 30 s on the first 202, then httpSettings' 5 s twice.
    assert 40 <= status.output["waited"] < 60
